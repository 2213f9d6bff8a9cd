"""Benchmark 6: speed is not bought with quality. The defaults against Kneser-Ney on WikiText-2.

Trains with the command-line defaults on ../shared/data/wikitext2-train.txt (all of
it but the 10% validation share that early stopping watches; no test share), then
scores the run on wikitext2-test.txt with `python -m word_predictor.evaluate --json`,
both as child processes, exactly as a user would run them. The yardstick is the
interpolated Kneser-Ney trigram of ../shared/data/README.md (same normalisation,
unknown threshold 3): a recurrent model should beat it on every figure.

    python -m benchmarks.quality --quick                      # 1 epoch, defaults only
    python -m benchmarks.quality                              # 6 epochs, defaults
    python -m benchmarks.quality --variant "dropout 0.5=--dropout 0.5" --variant "gru=--cell gru"
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import common

# ../shared/data/README.md: interpolated Kneser-Ney trigram (discount 0.75) on wikitext2-test.txt.
KNESER_NEY = {"perplexity": 192.9, "top1": 0.170, "top5": 0.396, "known_top1": 0.160, "known_top5": 0.337}


def train_and_evaluate(name: str, flags: list[str], epochs: int, logdir: Path) -> dict:
    run_name = f"{name.replace(' ', '-').replace('=', '')}-{time.strftime('%H%M%S')}"
    train = [sys.executable, "-m", "word_predictor.train",
             "--corpus", str(common.data_file("wikitext2-train.txt")),
             "--test-fraction", "0", "--validation-fraction", "0.1", "--epochs", str(epochs),
             "--logdir", str(logdir), "--run-name", run_name, *flags]  # fmt: skip
    evaluate = [sys.executable, "-m", "word_predictor.evaluate", "--run", str(logdir / run_name),
                "--text", str(common.data_file("wikitext2-test.txt")), "--json"]  # fmt: skip
    print(f"  {name}: {shlex.join(train[1:])}", flush=True)
    start = time.perf_counter()
    trained = subprocess.run(train, cwd=common.REPO, capture_output=True, text=True)
    train_seconds = time.perf_counter() - start
    if trained.returncode != 0:
        return {"variant": name, "error": trained.stderr.strip()[-500:]}
    scored = subprocess.run(evaluate, cwd=common.REPO, capture_output=True, text=True)
    if scored.returncode != 0:
        return {"variant": name, "error": scored.stderr.strip()[-500:]}
    scores = json.loads(scored.stdout.strip().splitlines()[-1])
    metrics = json.loads((logdir / run_name / "metrics.json").read_text())
    history = [line for line in trained.stdout.splitlines() if "val_loss" in line]
    return {
        "variant": name,
        "flags": " ".join(flags),
        "run": str(logdir / run_name),
        "train_command": shlex.join(["python", *train[1:]]),
        "evaluate_command": shlex.join(["python", *evaluate[1:]]),
        "train seconds": train_seconds,
        "best epoch": metrics.get("best_epoch"),
        "epochs run": metrics.get("epochs_completed"),
        **{key: scores[key] for key in KNESER_NEY},
        "beats KN on all": all(
            scores[key] < value if key == "perplexity" else scores[key] > value
            for key, value in KNESER_NEY.items()
        ),
        "epoch log": history,
    }


def main(argv=None) -> int:
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, help="epochs to train (default: 6, or 1 with --quick)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=FLAGS",
                        help="also train with these extra train flags, e.g. 'gru=--cell gru'")  # fmt: skip
    parser.add_argument("--no-defaults", action="store_true", help="train only the --variant runs")
    parser.add_argument("--logdir", type=Path, default=Path(common.RESULTS / "runs"),
                        help="where the runs are written (kept for benchmarks.latency --run)")  # fmt: skip
    args = parser.parse_args(argv)
    epochs = args.epochs or (1 if args.quick else 6)
    variants = [] if args.no_defaults else [("defaults", [])]
    for text in args.variant:
        name, _, flags = text.partition("=")
        variants.append((name, shlex.split(flags)))
    rows = [train_and_evaluate(name, flags, epochs, args.logdir) for name, flags in variants]
    reference = {"variant": "Kneser-Ney trigram (../shared/data/README.md)", **KNESER_NEY}
    shown = []
    for row in [reference, *rows]:
        shown.append({
            **row,
            **{key: f"{100 * row[key]:.1f}%" for key in KNESER_NEY if key != "perplexity" and key in row},
        })  # fmt: skip
    common.print_table(
        shown,
        ["variant", "flags", "perplexity", "top1", "top5", "known_top1", "known_top5", "beats KN on all",
         "best epoch", "epochs run", "train seconds"],
        title=f"wikitext2-test.txt after at most {epochs} epoch(s) on wikitext2-train.txt",
    )  # fmt: skip
    for row in rows:
        if "error" in row:
            print(f"{row['variant']} failed: {row['error']}")
    common.save_results("quality", args, {"epochs": epochs, "kneser_ney": KNESER_NEY, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
