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
from word_predictor.errors import AdaptationUnavailable, UsageError, UserError
from word_predictor.scoring.evaluate import NothingToScore, format_scores, score_run


def build_parser() -> argparse.ArgumentParser:
    parser = cli.Parser(
        prog="python -m word_predictor.evaluate",
        description="Score a trained run: perplexity, top-1 and top-5 accuracy of next-word prediction.",
    )
    backend.add_backend_argument(parser)
    cli.add_engine_arguments(parser)
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
    cli.add_adaptation_arguments(
        parser, cli.ADAPTATIONS,
        "also score the text with the model adapting as it reads, each segment scored before it is learned from: "
        "cache (a continuous cache of recent hidden states), dynamic (an SGD step after each segment, pulled back "
        f"toward the trained weights), or cache,dynamic; --adapt alone: {cli.DEFAULT_ADAPTATION}. The figures "
        "without adaptation are printed beside them (JSON: the same keys under \"adapted\"); with --text, "
        "keystroke savings count every word, one outside the vocabulary saved when the cache offers it",
    )  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run_cli("word_predictor.evaluate", lambda: _evaluate(args))


def _evaluate(args: argparse.Namespace) -> int:
    from word_predictor.corpus.build import encode_files
    from word_predictor.exporter.manifest import is_exported
    from word_predictor.rundir import read_test_split

    adaptation = _adaptation(args)
    run_dir = cli.chosen_run(args.run, args.logdir)
    if is_exported(run_dir) and not args.text:
        raise UsageError(f"{run_dir} is an exported folder, which keeps no test split; pass --text FILE")
    # The cache reads the hidden state, which the runtime gives too; dynamic evaluation changes the weights.
    keras_only = "dynamic evaluation (--adapt dynamic)" if adaptation and adaptation.dynamic else None
    predictor = cli.load_predictor(run_dir, args.backend, args.engine, args.verbose, keras_only=keras_only,
                                   adapts=bool(adaptation))  # fmt: skip
    vocabulary = predictor.vocabulary
    if args.text:
        split = encode_files(args.text, vocabulary, args.encoding_errors)  # a SettingError: run_cli names the flags
    else:
        split = read_test_split(run_dir)
    try:
        if adaptation:
            return _print_adapted(args, predictor, run_dir, split, adaptation)
        scores = score_run(predictor, split, args.batch_size)
    except NothingToScore:
        unit = vocabulary.tokenizer.unit
        raise UserError(f"the text is too short to evaluate: no {unit} has enough {unit}s before it in one file") from None
    if args.json:
        print(json.dumps(_shown(scores) | {"run": str(run_dir)}))
    else:
        print(f"run: {run_dir}")
        print(format_scores(scores))
    return 0


# What a user sees first; the unknown share beside perplexity (see format_scores).
_KEYS = ("tokens", "keystroke_savings", "top3", "perplexity", "unknown_rate", "known_tokens", "top1", "top5",
         "known_top1", "known_top3", "known_top5", "bits_per_token", "bits_per_word", "bits_per_character")  # fmt: skip


def _shown(scores: dict) -> dict:
    return {key: scores[key] for key in _KEYS if key in scores}


def _adaptation(args: argparse.Namespace):
    """The adaptation --adapt asks for, or None."""
    if args.adapt is None:
        given = [flag for name, flag in cli.ADAPTATION_FLAGS.items() if getattr(args, name, None) is not None]
        if given:
            raise UsageError(f"{given[0]} sets an adaptation; add --adapt")
        return None
    from word_predictor.adaptation.scoring import Adaptation

    cache, dynamic = cli.adaptation_settings(args, args.adapt)
    return Adaptation(cache=cache, dynamic=dynamic)


def _print_adapted(args: argparse.Namespace, predictor, run_dir: Path, split, adaptation) -> int:
    """evaluate --adapt: both sets of figures, from one reading of the text in order."""
    from word_predictor.adaptation.scoring import score_adapted

    words = _written_words(args, predictor.vocabulary, split) if args.text else None
    try:
        plain, adapted = score_adapted(predictor, split, adaptation, words)
    except AdaptationUnavailable as error:  # an engine without the hidden state (an older export)
        raise UserError(f"--adapt cannot be used here: {error}") from None
    except ValueError:  # no target at all: the Tally's own refusal
        raise NothingToScore("nothing to score") from None
    settings = {kind: vars(value) for kind, value in (("cache", adaptation.cache), ("dynamic", adaptation.dynamic))
                if value is not None}  # fmt: skip
    if args.json:
        print(json.dumps(_shown(plain) | {"adapted": _shown(adapted), "adaptation": settings, "run": str(run_dir),
                                          "new_words_counted": words is not None}))  # fmt: skip
        return 0
    print(f"run: {run_dir}")
    print("without adaptation:")
    print(format_scores(plain))
    print(f"with adaptation ({', '.join(f'{k} {v}' for k, v in settings.items())}):")
    print(format_scores(adapted))
    if words is not None and "keystroke_savings" in adapted:
        print("(keystrokes saved count every word of --text: one outside the vocabulary saves letters only "
              "when the adapted keyboard offers it)")  # fmt: skip
    return 0


def _written_words(args: argparse.Namespace, vocabulary, split) -> list[str] | None:
    """The tokens of --text as written (a word outside the vocabulary keeps its text),
    aligned with the split's ids; None if they do not line up."""
    from word_predictor.corpus.files import find_text_files, read_tokens

    words: list[str] = []
    for path in find_text_files(args.text, "text"):
        for tokens in read_tokens(path, vocabulary.tokenizer, args.encoding_errors):
            words.extend(tokens)
    return words if len(words) == len(split.ids) else None


if __name__ == "__main__":
    sys.exit(main())
