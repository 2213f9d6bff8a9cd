"""Benchmark: generation speed of a window run against a full-context run.

A window run's state is its last window, so each new token re-reads the window
(window_size steps of the network per token); a full-context run carries its
recurrent state and reads one step per token. Both runs are the same size
(default units and embedding, the same vocabulary), trained for one epoch on the
shipped corpus (the weights do not change the time), and each continues the same
prompt by --words tokens through Predictor.generate (one sample, temperature 1),
the ways interleaved round by round so a slow spell of the machine hits them all
alike. Reported: tokens per second, median of the rounds, and each way's speed
against the window run as trained (ratio of medians, and median of per-round ratios).

"window, read with 35 tokens" is the same window model asked to read 35-token
windows (the full-context run's --bptt): what a longer window costs at generation.

    python -m benchmarks.generation --quick
    python -m benchmarks.generation [--words 200] [--rounds 7] [--window-run DIR --full-run DIR]
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks import common

PROMPT = "the light from the harbour"


def train_runs(logdir: Path) -> tuple[Path, Path]:
    """A window run and a full-context run of the same size on the shipped corpus, one epoch each."""
    from word_predictor import train

    corpus = common.REPO / "corpus"
    for name, flags in (("window", []), ("full", ["--context", "full"])):
        argv = ["--corpus", str(corpus), "--logdir", str(logdir), "--run-name", name, "--epochs", "1", *flags]
        if train.main(argv) != 0:
            raise SystemExit(f"could not train the {name} run")
    return logdir / "window", logdir / "full"


def measure(window_run: Path, full_run: Path, words: int, rounds: int) -> tuple[list[dict], dict]:
    from word_predictor.predictor.predictor import Predictor
    from word_predictor.rundir import load_run

    window, full = load_run(window_run), load_run(full_run)
    long_window = dataclasses.replace(window.config, window_size=full.config.bptt)
    ways = {
        f"window run (window {window.config.window_size}, re-read per token)": Predictor.from_run(window),
        f"window run, read with {long_window.window_size} tokens (timing only)": Predictor.for_model(
            window.model, long_window, window.vocabulary
        ),
        "full-context run (state carried, one step per token)": Predictor.from_run(full),
    }
    names = list(ways)
    for predictor in ways.values():  # warm up: trace every input shape once
        predictor.generate(PROMPT, min(words, 40), seed=0)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for number in range(rounds):
        for name in names[number % len(names) :] + names[: number % len(names)]:
            start = time.perf_counter()
            generation = ways[name].generate(PROMPT, words, seed=number)
            seconds[name].append(time.perf_counter() - start)
            assert len(generation.samples[0].tokens) == words
    yardstick = common.median(seconds[names[0]])
    rows = [
        {
            "way": name,
            "tokens/s (median)": words / common.median(values),
            "range": common.spread([words / v for v in values]),
            "speed / window run": yardstick / common.median(values),
            "per-round ratios (median)": statistics.median(w / v for w, v in zip(seconds[names[0]], values)),
            "rounds": len(values),
        }
        for name, values in seconds.items()
    ]
    sizes = {
        "units": window.config.units,
        "embedding_dim": window.config.embedding_dim,
        "vocabulary": len(window.vocabulary),
        "same_vocabulary": window.vocabulary == full.vocabulary,
    }
    return rows, sizes


def main(argv=None) -> int:
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--words", type=int, default=200, help="tokens generated per call")
    parser.add_argument("--rounds", type=int, help="timed calls per way (default: 3 quick, 7)")
    parser.add_argument("--window-run", type=Path, help="a window run to time (default: train one)")
    parser.add_argument("--full-run", type=Path, help="a full-context run of the same size (default: train one)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 7)
    with tempfile.TemporaryDirectory() as logdir:
        if args.window_run and args.full_run:
            window_run, full_run = args.window_run, args.full_run
        else:
            window_run, full_run = train_runs(Path(logdir))
        rows, sizes = measure(window_run, full_run, args.words, rounds)
    common.print_table(
        rows, ["way", "tokens/s (median)", "range", "speed / window run", "per-round ratios (median)", "rounds"],
        title=f"Generating {args.words} tokens, one sample: units {sizes['units']}, "
        f"embedding {sizes['embedding_dim']}, vocabulary {sizes['vocabulary']:,}",
    )  # fmt: skip
    common.save_results("generation", args, {"words": args.words, "rounds": rounds, **sizes, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
