"""Defaults chosen by measurement: train candidate settings at a user's time budget, score
each as a user would, and keep what wins on what a keyboard user sees.

Each candidate is a named set of `python -m word_predictor.train` flags, trained as a
child process with train's own `--time-limit MINUTES`, then scored with
`python -m word_predictor.evaluate --json` (perplexity, top-1/top-3 over known words,
keystrokes saved), `--rounds N` times (round R trains with `--seed R`; the candidates
take turns within a round, so a machine's load falls on all of them alike). Today's
defaults are always among them, and on word-level text the Kneser-Ney trigram is scored
in the same invocation. The table shows medians over the rounds and ratios against
today's defaults; benchmarks/sweep_results.py says how the winner is chosen.

Corpora: `shipped` (the repository's corpus/, scored on its own held-out test split),
`wikitext2` (../shared/data/wikitext2-train.txt, scored on wikitext2-test.txt),
`shakespeare` (../shared/data/tinyshakespeare.txt at character level, its own test
split), or the path of any text file or folder (its own test split).

    python -m benchmarks.sweep --corpus shipped --time-limit 1 --rounds 3
    python -m benchmarks.sweep --corpus wikitext2 --time-limit 10 --candidates defaults regularised
    python -m benchmarks.sweep --corpus shakespeare --time-limit 5 --variant "wide=--units 512"
    tensorboard --logdir benchmarks/results/sweep/DATE/table      # the HParams dashboard
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from benchmarks import common, sweep_results
from benchmarks.quality import KneserNeyTrigram, score_kneser_ney

# docs/training.md, "Regularisation for small text": AWD-LSTM's regularisers together.
REGULARISED = ("--locked-dropout --weight-drop 0.3 --embedding-dropout 0.1 --activation-regularisation 2 "
               "--temporal-activation-regularisation 1 --weight-averaging")  # fmt: skip
CANDIDATES = {
    sweep_results.DEFAULTS: "",
    "regularised": REGULARISED,
    "tied regularised": f"{REGULARISED} --tie-weights",
    "full context regularised": f"--context full {REGULARISED}",
    "sgd regularised": f"{REGULARISED} --optimizer sgd --learning-rate 30 --clip-norm 0.25 --lr-patience 1",
    "adam 0.002": "--learning-rate 0.002",
    "adam 0.01": "--learning-rate 0.01",
}
BATCH = 1024  # trigram contexts scored at once


@dataclass
class Setup:
    """A corpus: the train flags that read it, the evaluate flags that score it, and the
    yardstick (given today's defaults' first run folder; None where there is none)."""

    name: str
    train_flags: list[str]
    evaluate_flags: list[str] = field(default_factory=list)
    yardstick: Callable[[Path], dict | None] | None = None


def setup_for(corpus: str) -> Setup:
    if corpus == "shipped":
        return Setup("shipped", ["--corpus", str(common.REPO / "corpus")], yardstick=kneser_ney_on_splits)
    if corpus == "wikitext2":
        train, test = common.data_file("wikitext2-train.txt"), common.data_file("wikitext2-test.txt")
        return Setup("wikitext2", ["--corpus", str(train), "--test-fraction", "0"], ["--text", str(test)],
                     yardstick=lambda run_dir: score_kneser_ney(train, test))  # fmt: skip
    if corpus == "shakespeare":
        shakespeare = common.data_file("tinyshakespeare.txt")
        return Setup("shakespeare", ["--corpus", str(shakespeare), "--level", "char"])
    path = Path(corpus)
    if not path.exists():
        sys.exit(f"benchmarks.sweep: --corpus {corpus}: no such file or folder; "
                 f"name one, or choose shipped, wikitext2 or shakespeare")  # fmt: skip
    return Setup(path.name, ["--corpus", str(path.resolve())], yardstick=kneser_ney_on_splits)


def kneser_ney_on_splits(run_dir: Path) -> dict | None:
    """The trigram fitted on a word-level run's own training split and scored on its test
    split, in the run's vocabulary (the corpus is read again with the run's settings,
    which split it the same way). Each word with two words before it in its segment
    is scored; None at character level."""
    from word_predictor import scoring
    from word_predictor.config import load_config
    from word_predictor.rundir import CONFIG_FILE, read_test_split
    from word_predictor.training.run_corpus import corpus_for

    config = load_config(Path(run_dir) / CONFIG_FILE)[0]
    if config.level != "word":
        return None
    corpus = corpus_for(config)
    model = KneserNeyTrigram(list(corpus.splits["train"].segments()), len(corpus.vocabulary))
    keyboard, tally = scoring.PrefixIndex(corpus.vocabulary.tokens), scoring.Tally()
    for segment in read_test_split(run_dir).segments():
        for begin in range(2, segment.size, BATCH):
            at = np.arange(begin, min(begin + BATCH, segment.size))
            targets = segment[at]
            probabilities = model.distributions(segment[at - 2], segment[at - 1])  # (batch, V)
            tally.add(scoring.target_log_probabilities(probabilities, targets),
                      scoring.target_ranks(probabilities, targets), targets,
                      keyboard.keystrokes(probabilities, targets))  # fmt: skip
    return tally.summary()


def child(arguments: list[str]) -> subprocess.CompletedProcess:
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, *arguments], cwd=common.REPO, capture_output=True, text=True,
                          env=environment)  # fmt: skip


def train_and_score(name: str, flags: str, setup: Setup, args, round_number: int) -> dict:
    """One round of one candidate: train, then evaluate; a dict of figures, or one with "error"."""
    runs = args.logdir / "runs"
    run_name = f"{sweep_results.slug(name)}-round{round_number}"
    train = ["-m", "word_predictor.train", *setup.train_flags, "--time-limit", str(args.time_limit),
             "--seed", str(round_number), "--logdir", str(runs), "--run-name", run_name,
             *shlex.split(args.flags), *shlex.split(flags)]  # fmt: skip
    print(f"  round {round_number}, {name}: python {shlex.join(train)}", flush=True)
    start = time.perf_counter()
    trained = child(train)
    seconds = time.perf_counter() - start
    if trained.returncode != 0:
        return {"error": _last_line(trained.stderr), "command": shlex.join(train)}
    evaluate = ["-m", "word_predictor.evaluate", "--run", str(runs / run_name), *setup.evaluate_flags]
    evaluate.append("--json")
    scored = child(evaluate)
    if scored.returncode != 0:
        return {"error": _last_line(scored.stderr), "run": str(runs / run_name)}
    figures = json.loads(scored.stdout.strip().splitlines()[-1])
    metrics = json.loads((runs / run_name / "metrics.json").read_text(encoding="utf-8"))
    return {**figures, "train_seconds": seconds, "epochs_run": metrics.get("epochs_completed"),
            "best_epoch": metrics.get("best_epoch")}  # fmt: skip


def _last_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    return lines[-1] if lines else "failed without a message"


def build_parser():
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="shipped",
                        help="shipped, wikitext2, shakespeare, or a text file or folder")  # fmt: skip
    parser.add_argument("--time-limit", type=float, metavar="MINUTES",
                        help="train's --time-limit, each run (default: 1, or 0.5 with --quick)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=1, help="runs of each candidate (medians are reported)")
    parser.add_argument("--candidates", nargs="*", choices=list(CANDIDATES), default=list(CANDIDATES),
                        metavar="NAME", help=f"built-in candidates: {', '.join(CANDIDATES)}")  # fmt: skip
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=FLAGS",
                        help="one more candidate, a name and train flags: 'gru=--cell gru'")  # fmt: skip
    parser.add_argument("--flags", default="", help="train flags every candidate shares, before its own")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    parser.add_argument("--logdir", type=Path, default=common.RESULTS / "sweep" / stamp,
                        help="for the runs (LOGDIR/runs) and the hparams table (LOGDIR/table)")  # fmt: skip
    return parser


def chosen_candidates(parser, args) -> dict[str, str]:
    """Name -> train flags: today's defaults first, the built-in ones asked for, the variants."""
    candidates = {sweep_results.DEFAULTS: ""} | {name: CANDIDATES[name] for name in args.candidates}
    for text in args.variant:
        name, equals, flags = text.partition("=")
        if not equals or not name.strip() or name.strip() in candidates:
            parser.error(f"--variant {text!r}: give a new name, '=', then train flags, e.g. 'gru=--cell gru'")
        try:
            shlex.split(flags)
        except ValueError as error:
            parser.error(f"--variant {text!r}: {error}")
        candidates[name.strip()] = flags
    return candidates


def check(parser, args) -> None:
    if args.time_limit is None:
        args.time_limit = 0.5 if args.quick else 1.0
    if not args.time_limit > 0:
        parser.error("--time-limit must be above 0 minutes")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    try:
        shlex.split(args.flags)
    except ValueError as error:
        parser.error(f"--flags: {error}")
    if (args.logdir / "table").exists():
        parser.error(f"--logdir {args.logdir} already holds a sweep's table; name a new folder")


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check(parser, args)
    candidates = chosen_candidates(parser, args)
    setup = setup_for(args.corpus)
    results: dict[str, list[dict]] = {name: [] for name in candidates}
    for round_number in range(args.rounds):
        for name, flags in candidates.items():
            results[name].append(train_and_score(name, flags, setup, args, round_number))
    rows = [{"candidate": name, "flags": flags, **sweep_results.medians(results[name])}
            for name, flags in candidates.items()]  # fmt: skip
    defaults_run = args.logdir / "runs" / f"{sweep_results.DEFAULTS}-round0"
    scored = setup.yardstick and "error" not in results[sweep_results.DEFAULTS][0]
    yardstick = setup.yardstick(defaults_run) if scored else None
    sweep_results.add_ratios(rows)
    sweep_results.mark(rows)
    setting = {"corpus": setup.name, "time_limit_minutes": args.time_limit, "rounds": args.rounds}
    sweep_results.write_hparams(args.logdir / "table", rows, setting)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\n{setup.name}, train --time-limit {args.time_limit:g} min, median of {args.rounds} round(s); "
          f"load average now {load} on {os.cpu_count()} cores\n")  # fmt: skip
    print(sweep_results.markdown(rows, yardstick))
    print(f"\nhparams table: tensorboard --logdir {args.logdir / 'table'}")
    for name, rounds in results.items():
        for number, result in enumerate(rounds):
            if "error" in result:
                print(f"{name}, round {number} failed: {result['error']}")
    common.save_results("sweep", args, {"setting": setting, "rows": rows, "kneser_ney": yardstick,
                                        "rounds": results})  # fmt: skip
    return 0 if rows[0].get("perplexity") is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
