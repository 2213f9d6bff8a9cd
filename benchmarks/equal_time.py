"""Full context against the window default at equal wall time, on held-out text.

Each setting trains with `python -m word_predictor.train ... --time-limit MINUTES`
(the trainer stops after the epoch that passes the limit and keeps its best
epoch), then `python -m word_predictor.evaluate --text HELD-OUT --json` scores it:
a full-context run reads the held-out text as one stream, a window run its windows.
Settings run one after another, each in its own process, so each has the whole
machine; the wall column says how long each really took.

    --corpus wikitext2   trains on ../shared/data/wikitext2-train.txt (no test share),
                         scores on wikitext2-test.txt
    --corpus shipped     trains on the shipped corpus/ without one story, which is
                         held out and scored (the corpus is copied to a temporary folder)

    python -m benchmarks.equal_time --corpus wikitext2 --minutes 10
    python -m benchmarks.equal_time --corpus shipped --minutes 0.6 \\
        --setting "full, 2 x 256=--context full --layers 2"
    python -m benchmarks.equal_time --quick            # shipped corpus, 0.2 minutes each

Without --setting, the window default runs against the full-context default.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import common

HELD_OUT_STORY = Path("stories") / "06_a_night_of_rain_in_the_city.txt"
DEFAULT_SETTINGS = ["window default=", "full default=--context full"]


def corpus_files(name: str, folder: Path) -> tuple[Path, Path]:
    """(training corpus, held-out text) for `name`; the shipped one is copied into `folder`."""
    if name == "wikitext2":
        return common.data_file("wikitext2-train.txt"), common.data_file("wikitext2-test.txt")
    training = folder / "corpus"
    shutil.copytree(common.REPO / "corpus", training)
    held_out = folder / HELD_OUT_STORY.name
    shutil.move(training / HELD_OUT_STORY, held_out)
    return training, held_out


def run_setting(flags: list[str], training: Path, held_out: Path, minutes: float, logdir: Path, name: str) -> dict:
    train = ["-m", "word_predictor.train", "--corpus", str(training), "--test-fraction", "0",
             "--epochs", "1000", "--time-limit", str(minutes), "--logdir", str(logdir), "--run-name", name, *flags]  # fmt: skip
    evaluate = ["-m", "word_predictor.evaluate", "--run", str(logdir / name), "--text", str(held_out), "--json"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *train], cwd=common.REPO, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        return {"ok": False, "error": done.stderr.strip()[-500:]}
    scored = subprocess.run([sys.executable, *evaluate], cwd=common.REPO, capture_output=True, text=True, env=env)
    if scored.returncode != 0:
        return {"ok": False, "error": scored.stderr.strip()[-500:]}
    metrics = json.loads((logdir / name / "metrics.json").read_text())
    return {
        "ok": True,
        "wall_seconds": wall,
        "epochs": metrics.get("epochs_completed"),
        "best_epoch": metrics.get("best_epoch"),
        "scores": json.loads(scored.stdout.strip().splitlines()[-1]),
        "command": "python " + shlex.join(train),
    }


def main(argv=None) -> int:
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=["wikitext2", "shipped"], default="shipped")
    parser.add_argument("--minutes", type=float, default=10.0, help="--time-limit of every setting")
    parser.add_argument("--setting", action="append", metavar="NAME=FLAGS",
                        help="a setting to run (repeat); default: the window and full-context defaults")  # fmt: skip
    args = parser.parse_args(argv)
    if args.quick:
        args.corpus, args.minutes = "shipped", 0.2
    settings = [s.split("=", 1) for s in (args.setting or DEFAULT_SETTINGS)]
    if any(len(s) != 2 for s in settings):
        parser.error("--setting takes NAME=FLAGS, for example 'full=--context full'")
    rows, raw = [], {}
    with tempfile.TemporaryDirectory() as folder:
        training, held_out = corpus_files(args.corpus, Path(folder))
        for number, (name, flags) in enumerate(settings):
            print(f"{name}: training for {args.minutes} minutes", flush=True)
            result = run_setting(shlex.split(flags), training, held_out, args.minutes, Path(folder) / "logs",
                                 f"setting-{number}")  # fmt: skip
            raw[name] = result
            if not result["ok"]:
                print(f"  failed: {result['error']}", flush=True)
                continue
            scores = result["scores"]
            print(f"  {result['wall_seconds']:.0f} s, {result['epochs']} epochs, "
                  f"held-out perplexity {scores['perplexity']:.1f}", flush=True)  # fmt: skip
            rows.append({
                "setting": name, "flags": flags or "(defaults)", "wall s": result["wall_seconds"],
                "epochs": result["epochs"], "perplexity": scores["perplexity"],
                "top-1": scores.get("top1"), "top-3": scores.get("top3"), "top-5": scores.get("top5"),
                "keystrokes saved": scores.get("keystroke_savings"),
            })  # fmt: skip
    common.print_table(rows, ["setting", "flags", "wall s", "epochs", "perplexity", "top-1", "top-3", "top-5",
                              "keystrokes saved"],
                       title=f"{args.corpus}, {args.minutes} minutes each, scored on held-out text")  # fmt: skip
    common.save_results("equal_time", args, {"corpus": args.corpus, "minutes": args.minutes, "rows": rows,
                                             "raw": raw})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
