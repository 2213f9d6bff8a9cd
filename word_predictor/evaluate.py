"""python -m word_predictor.evaluate: how well a run predicts the next word of a text.

A window run scores every word that has `window_size` words before it (in the same
file), predicted from exactly those words, the same task as predict's. A
full-context run scores every word but a file's first, each predicted from all
the text before it in its file (the state carried through the whole text), so its
perplexity compares with published language-model figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from word_predictor import backend, cli
from word_predictor.corpus.files import ENCODING_ERRORS
from word_predictor.errors import UsageError, UserError, run_cli
from word_predictor.scoring.evaluate import NothingToScore, format_scores, score_run


def build_parser() -> argparse.ArgumentParser:
    parser = cli.Parser(
        prog="python -m word_predictor.evaluate",
        description="Score a trained run: perplexity, top-1 and top-5 accuracy of next-word prediction.",
    )
    backend.add_backend_argument(parser)
    parser.add_argument("--run", type=Path, help=cli.RUN_HELP)
    parser.add_argument("--logdir", type=Path, default=Path("logs"), help="where runs live (default: logs)")
    parser.add_argument(
        "--text", nargs="+", metavar="FILE",
        help="text files or folders to evaluate on (default: the run's own held-out test split)",
    )  # fmt: skip
    parser.add_argument("--encoding-errors", choices=ENCODING_ERRORS, default="strict",
                        help="what to do with invalid UTF-8 in --text (default: strict)")  # fmt: skip
    parser.add_argument("--batch-size", type=cli.positive_int, default=1024,
                        help="contexts scored at once (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli("word_predictor.evaluate", lambda: _evaluate(args))


def _evaluate(args: argparse.Namespace) -> int:
    from word_predictor.corpus.build import encode_files
    from word_predictor.exporter.manifest import is_exported
    from word_predictor.rundir import read_test_split

    run_dir = cli.chosen_run(args.run, args.logdir)
    if is_exported(run_dir) and not args.text:
        raise UsageError(f"{run_dir} is an exported folder, which keeps no test split; pass --text FILE")
    predictor = cli.load_predictor(run_dir, args.backend)
    if args.text:
        split = encode_files(args.text, predictor.vocabulary, args.encoding_errors)  # a SettingError: run_cli names the flags
    else:
        split = read_test_split(run_dir)
    try:
        scores = score_run(predictor, split, args.batch_size)
    except NothingToScore:
        unit = predictor.vocabulary.tokenizer.unit
        raise UserError(f"the text is too short to evaluate: no {unit} has enough {unit}s before it in one file") from None
    if args.json:
        keys = ("tokens", "perplexity", "top1", "top3", "top5", "known_top1", "known_top3", "known_top5",
                "keystroke_savings", "bits_per_token", "bits_per_word", "bits_per_character")  # fmt: skip
        print(json.dumps({key: scores[key] for key in keys if key in scores} | {"run": str(run_dir)}))
    else:
        print(f"run: {run_dir}")
        print(format_scores(scores))
    return 0


if __name__ == "__main__":
    sys.exit(main())
