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
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from word_predictor import backend, cli
from word_predictor.corpus import ENCODING_ERRORS, Split
from word_predictor.errors import UserError, run_cli
from word_predictor.scores import PrefixIndex, Tally, softmax, target_log_probabilities, target_ranks
from word_predictor.text import Vocabulary


def score(reader, split: Split, batch_size: int = 1024, vocabulary: Vocabulary | None = None) -> dict:
    """Perplexity and accuracies over every target `reader` scores in `split` (scores.Tally's
    figures); with the run's `vocabulary`, also the keystroke savings of a 3-suggestion
    keyboard over the targets that are not the unknown symbol."""
    keyboard = PrefixIndex(vocabulary.tokens) if vocabulary is not None else None
    tally = Tally()
    for logits, targets in read_ahead(reader.scored(split, batch_size)):
        if targets.size == 0:
            continue
        probabilities = softmax(logits)  # (batch, vocabulary)
        tally.add(
            target_log_probabilities(probabilities, targets),
            target_ranks(probabilities, targets),
            targets,
            keyboard.keystrokes(probabilities, targets) if keyboard else None,
        )
    if tally.tokens == 0:
        raise UserError("the text is too short to evaluate: no word has enough words before it in one file")
    return tally.summary()


def read_ahead(items: Iterable) -> Iterator:
    """`items`, each made in a worker thread while the caller handles the one before: the
    model computes the next logits while NumPy scores these (both let go of the GIL), so
    on two cores scoring a long text costs about the model's time alone."""
    iterator, end = iter(items), object()
    with ThreadPoolExecutor(1, thread_name_prefix="scoring") as worker:
        pending = worker.submit(next, iterator, end)
        while (item := pending.result()) is not end:
            pending = worker.submit(next, iterator, end)
            yield item


def score_run(predictor, split: Split, batch_size: int = 1024) -> dict:
    """`score` for a loaded run: keystroke savings for a word run (a keyboard suggests words),
    and bits per word or per character (the usual char-RNN figure) named after its unit."""
    unit = predictor.vocabulary.tokenizer.unit
    scores = score(predictor.reader, split, batch_size, vocabulary=predictor.vocabulary if unit == "word" else None)
    scores[f"bits_per_{unit}"] = scores["bits_per_token"]
    return scores


def format_scores(scores: dict) -> str:
    lines = [
        f"tokens evaluated:  {scores['tokens']:,} ({scores['unknown_rate']:.1%} unknown)",
        f"perplexity:        {scores['perplexity']:.2f}",
        f"top-1 accuracy:    {scores['top1']:.2%}",
        f"top-3 accuracy:    {scores['top3']:.2%}",
        f"top-5 accuracy:    {scores['top5']:.2%}",
        f"known top-1:       {scores['known_top1']:.2%}   (targets that are not the unknown symbol)",
        f"known top-5:       {scores['known_top5']:.2%}",
    ]
    if "bits_per_character" in scores:
        lines.append(f"bits per character: {scores['bits_per_character']:.3f}   (log2 of the per-character perplexity)")
    if "keystroke_savings" in scores:
        lines.append(
            f"keystrokes saved:  {scores['keystroke_savings']:.2%}   "
            "(letters a 3-suggestion keyboard saves on known words)"
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = cli.Parser(
        prog="python -m word_predictor.evaluate",
        description="Score a trained run: perplexity, top-1 and top-5 accuracy of next-word prediction.",
    )
    backend.add_backend_argument(parser)
    parser.add_argument("--run", type=Path, help="run folder to evaluate (default: the newest complete run)")
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
    backend.select(args.backend)
    from word_predictor.corpus import encode_files
    from word_predictor.predictor import Predictor
    from word_predictor.rundir import load_run, read_test_split

    run_dir = cli.chosen_run(args.run, args.logdir)
    run = load_run(run_dir)
    if args.text:
        split = encode_files(args.text, run.vocabulary, args.encoding_errors, flag="--text")
    else:
        split = read_test_split(run_dir)
    scores = score_run(Predictor.from_run(run), split, args.batch_size)
    if args.json:
        keys = ("tokens", "perplexity", "top1", "top3", "top5", "known_top1", "known_top5", "keystroke_savings",
                "bits_per_token", "bits_per_word", "bits_per_character")  # fmt: skip
        print(json.dumps({key: scores[key] for key in keys if key in scores} | {"run": str(run_dir)}))
    else:
        print(f"run: {run_dir}")
        print(format_scores(scores))
    return 0


if __name__ == "__main__":
    sys.exit(main())
