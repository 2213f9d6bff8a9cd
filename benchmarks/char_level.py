"""Character level on Tiny Shakespeare: validation loss in nats per character against wall time.

The text is cut as the character-RNN experiments cut it: the first 90% trains, the
last 10% validates (written to a temporary folder, never to the repository). The
model trains with `python -m word_predictor.train --level char --time-limit MINUTES`
on the first 90% (its own 5% validation share drives early stopping and the
learning-rate schedule), and each epoch's kept model is scored on the last 10%
with the evaluate code, so the curve is the held-out loss a user would get.

Yardsticks (from ../shared/data and published figures, nats per character on that
validation text): `xz -9e` with the training text as context 1.745; nanoGPT's CPU
configuration 1.88; its GPU model 1.47.

    python -m benchmarks.char_level --minutes 15                  # the CPU goal: below 1.70
    python -m benchmarks.char_level --minutes 2 --backend jax     # the GPU goal: below 1.45
    python -m benchmarks.char_level --minutes 15 --flags "--layers 2 --units 512"

Writes docs/char-level-curve.png (validation loss against minutes) with --picture.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import common

XZ_NATS_PER_CHAR = 1.745
DEFAULT_FLAGS = "--layers 2 --units 256 --dropout 0.2 --bptt 100 --batch-size 32"


def curve_from_events(run_dir: Path) -> list[tuple[float, float]]:
    """(minutes, validation nats/char) per epoch, from the run's TensorBoard events."""
    from word_predictor.monitoring import read_events

    seconds, losses = {}, {}
    for path in (run_dir / "train").glob("events.*"):
        for event in read_events(path):
            for value in event.summary.value:
                if value.tag == "epoch_seconds":
                    seconds[event.step] = _number(value)
    for path in (run_dir / "validation").glob("events.*"):
        for event in read_events(path):
            for value in event.summary.value:
                if value.tag == "epoch_loss":
                    losses[event.step] = _number(value)
    elapsed, points = 0.0, []
    for step in sorted(seconds):
        elapsed += seconds[step]
        if step in losses:
            points.append((elapsed / 60, losses[step]))
    return points


def _number(value) -> float:
    from tensorboard.util import tensor_util

    return float(tensor_util.make_ndarray(value.tensor)) if value.HasField("tensor") else float(value.simple_value)


def draw(points: list[tuple[float, float]], path: Path, title: str) -> None:
    """A small line chart (PIL): loss against minutes, with the xz yardstick as a line."""
    from PIL import Image, ImageDraw

    width, height, margin = 640, 400, 60
    image = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(image)
    top = max(max(loss for _, loss in points), XZ_NATS_PER_CHAR) + 0.1
    bottom = min(min(loss for _, loss in points), 1.4) - 0.05
    right = max(minutes for minutes, _ in points) * 1.05

    def at(minutes, loss):
        return (margin + (width - 2 * margin) * minutes / right,
                height - margin - (height - 2 * margin) * (loss - bottom) / (top - bottom))  # fmt: skip

    pen.rectangle([margin, margin, width - margin, height - margin], outline="black")
    for loss in (1.5, 1.7, 1.9, 2.1, 2.3):
        if bottom < loss < top:
            y = at(0, loss)[1]
            pen.line([margin, y, width - margin, y], fill=(220, 220, 220))
            pen.text((8, y - 6), f"{loss:.1f}", fill="black")
    for minute in range(0, int(right) + 1, max(1, int(right) // 6)):
        x = at(minute, bottom)[0]
        pen.text((x - 4, height - margin + 6), str(minute), fill="black")
    y = at(0, XZ_NATS_PER_CHAR)[1]
    pen.line([margin, y, width - margin, y], fill=(200, 80, 80), width=1)
    pen.text((width - margin - 150, y - 14), "xz -9e: 1.745", fill=(200, 80, 80))
    pen.line([at(m, loss) for m, loss in points], fill=(30, 90, 200), width=2)
    for m, loss in points:
        x, y = at(m, loss)
        pen.ellipse([x - 3, y - 3, x + 3, y + 3], fill=(30, 90, 200))
    pen.text((margin, 20), title, fill="black")
    pen.text((width // 2 - 80, height - 24), "minutes of training", fill="black")
    image.save(path)


def main(argv=None) -> int:
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="training time limit")
    parser.add_argument("--flags", default=DEFAULT_FLAGS, help="extra train flags")
    parser.add_argument("--backend", default=None, help="Keras backend (jax on a GPU)")
    parser.add_argument("--picture", type=Path, help="write the curve as a PNG here")
    args = parser.parse_args(argv)
    if args.quick:
        args.minutes = min(args.minutes, 1.0)
    text = common.data_file("tinyshakespeare.txt").read_text(encoding="utf-8")
    cut = int(len(text) * 0.9)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "train").mkdir()
        (folder / "train" / "train.txt").write_text(text[:cut], encoding="utf-8")
        (folder / "valid.txt").write_text(text[cut:], encoding="utf-8")
        train = [sys.executable, "-m", "word_predictor.train", "--level", "char", "--corpus", str(folder / "train"),
                 "--validation-fraction", "0.05", "--test-fraction", "0", "--epochs", "1000", "--patience", "3",
                 "--time-limit", str(args.minutes), "--logdir", str(folder / "logs"), "--run-name", "char",
                 *shlex.split(args.flags)] + (["--backend", args.backend] if args.backend else [])  # fmt: skip
        evaluate = [sys.executable, "-m", "word_predictor.evaluate", "--run", str(folder / "logs" / "char"),
                    "--text", str(folder / "valid.txt"), "--json"]  # fmt: skip
        print("python " + shlex.join(train[1:]), flush=True)
        start = time.perf_counter()
        trained = subprocess.run(train, cwd=common.REPO, capture_output=True, text=True,
                                 env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})  # fmt: skip
        train_seconds = time.perf_counter() - start
        if trained.returncode != 0:
            print(trained.stderr[-2000:])
            return 1
        scored = subprocess.run(evaluate, cwd=common.REPO, capture_output=True, text=True)
        held_out = json.loads(scored.stdout.strip().splitlines()[-1])
        nats = math.log(held_out["perplexity"])
        curve = curve_from_events(folder / "logs" / "char")
        print(trained.stdout[-1500:])
        rows = [
            {"model": f"ours ({args.flags})", "minutes": train_seconds / 60, "nats/char": nats,
             "bits/char": held_out["bits_per_character"], "/ xz": nats / XZ_NATS_PER_CHAR},
            {"model": "xz -9e, training text as context", "nats/char": XZ_NATS_PER_CHAR, "/ xz": 1.0},
        ]  # fmt: skip
        common.print_table(rows, ["model", "minutes", "nats/char", "bits/char", "/ xz"],
                           title="Tiny Shakespeare, last 10% (held out)")  # fmt: skip
        print("curve (minutes, validation nats/char of the 5% share):", [(round(m, 2), round(v, 3)) for m, v in curve])
        if args.picture and curve:
            draw(curve, args.picture, f"char LSTM on Tiny Shakespeare ({args.flags}): validation loss")
            print(f"picture: {args.picture}")
        common.save_results("char_level", args, {"rows": rows, "curve": curve, "command": shlex.join(train[1:])})
    return 0


if __name__ == "__main__":
    sys.exit(main())
