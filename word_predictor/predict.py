"""python -m word_predictor.predict "TEXT": the likely next words after TEXT.

Needs only a run folder (model, vocabulary, config); it never reads the corpus.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from word_predictor import backend
from word_predictor.errors import UsageError, run_cli, warn

_SHOWN_TEXT = 300  # characters of a long TEXT echoed in the "Prediction:" line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m word_predictor.predict",
        description="Print the likely next words after TEXT, using a trained run.",
    )
    parser.add_argument("text", nargs="+", metavar="TEXT", help="the text so far (quote it, or give several words)")
    backend.add_backend_argument(parser)
    parser.add_argument("--run", type=Path, help="run folder to use (default: the newest complete run)")
    parser.add_argument("--logdir", type=Path, default=Path("logs"), help="where runs live (default: logs)")
    parser.add_argument("--top-k", type=int, default=5, help="how many next words to list (default: 5)")
    parser.add_argument("--words", type=int, default=1, help="how many words to add in the Prediction line (default: 1)")
    parser.add_argument("--include-unknown", action="store_true",
                        help="allow the unknown-word symbol among the suggestions")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli("word_predictor.predict", lambda: _predict(args))


def _predict(args: argparse.Namespace) -> int:
    text = " ".join(args.text).strip()
    if not text:
        raise UsageError('TEXT is empty; try: python -m word_predictor.predict "some of them looks like"')
    if args.top_k < 1 or args.words < 1:
        raise UsageError("--top-k and --words must be at least 1")
    backend.select(args.backend)
    from word_predictor.predictor import EmptyTextError, Predictor
    from word_predictor.rundir import load_run, newest_complete_run

    predictor = Predictor.from_run(load_run(args.run or newest_complete_run(args.logdir, on_note=warn)))
    try:
        suggestions = predictor.suggest(text, args.top_k, args.include_unknown)
    except EmptyTextError:
        raise UsageError(
            "the text has no words after normalisation (only letters, digits and apostrophes inside words "
            "count); give some words"
        ) from None
    if args.json:
        print(json.dumps({
            "context": suggestions.context,
            "unknown": suggestions.unknown,
            "predictions": [{"word": w, "probability": p} for w, p in suggestions.predictions],
        }))  # fmt: skip
        return 0
    print(f"context: {' '.join(suggestions.context)}")
    if suggestions.unknown:
        print(f"unknown words (read as the unknown symbol): {', '.join(suggestions.unknown)}")
    width = max(len(word) for word, _ in suggestions.predictions)
    for rank, (word, probability) in enumerate(suggestions.predictions, 1):
        print(f"{rank:>3}. {word:<{width}}  {probability:.4f}")
    added = [suggestions.predictions[0][0]]
    if args.words > 1:
        added += predictor.continue_text(f"{text} {added[0]}", args.words - 1)
    shown = text if len(text) <= _SHOWN_TEXT else "…" + text[-_SHOWN_TEXT:]
    # TEXT may hold what the terminal cannot show (bytes that were not UTF-8 arrive
    # as lone surrogates): echo those as replacement marks rather than crash.
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    shown = shown.encode(encoding, "replace").decode(encoding)
    print(f"Prediction: {shown} {' '.join(added)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
