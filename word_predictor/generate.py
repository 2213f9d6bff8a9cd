"""python -m word_predictor.generate "TEXT": continue TEXT by sampling from a trained run.

Each word is drawn from the model's distribution after the text so far, shaped
by --temperature, --top-k and --top-p (word_predictor.scoring.sampling); --temperature 0
is greedy and writes what `predict --words N` writes. Several --samples are drawn
side by side as one batch. An empty TEXT starts a text from nothing: the first
word is drawn from how often each word occurs in the training text (the run
has no begin-of-text token), and the model continues from it.

Without --json the first sample's words appear as they are drawn; the other
samples follow, a line each, once the batch is done.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from word_predictor import backend, cli
from word_predictor.errors import UsageError, warn

MAX_SAMPLES = 256  # a larger --samples is cut to this, with a note: one batch, as predict --input reads
_SHOWN_TEXT = 300  # characters of a long TEXT echoed before its continuation


def build_parser() -> argparse.ArgumentParser:
    parser = cli.Parser(
        prog="python -m word_predictor.generate",
        description="Continue TEXT by sampling words from a trained run.",
    )
    parser.add_argument("text", nargs="*", metavar="TEXT",
                        help="the text to continue (quote it, or give several words); empty or left out: "
                             "start a new text")  # fmt: skip
    backend.add_backend_argument(parser)
    cli.add_engine_arguments(parser)
    parser.add_argument("--run", type=Path, help=cli.RUN_HELP)
    parser.add_argument("--logdir", type=Path, default=Path("logs"), help="where runs live (default: logs)")
    parser.add_argument("--words", type=cli.positive_int,
                        help=f"words to write per sample, for a word run (default: 30, at most "
                             f"{cli.MAX_WORDS:,})")  # fmt: skip
    parser.add_argument("--chars", type=cli.positive_int,
                        help=f"characters to write per sample, for a character run (default: 300, at most "
                             f"{cli.MAX_WORDS:,})")  # fmt: skip
    parser.add_argument("--temperature", type=cli.non_negative_float, default=1.0,
                        help="below 1 picks likely words more often, above 1 less; 0 always picks the "
                             "likeliest (greedy, as predict --words) (default: 1.0)")  # fmt: skip
    parser.add_argument("--top-k", type=cli.non_negative_int, default=0,
                        help="draw only among the K likeliest words (default: 0, off)")
    parser.add_argument("--top-p", type=cli.probability, default=1.0,
                        help="draw only among the likeliest words that together hold probability P "
                             "(nucleus sampling) (default: 1.0, off)")  # fmt: skip
    parser.add_argument("--seed", type=cli.non_negative_int,
                        help="random seed: the same seed writes the same text (default: a new one each time, "
                             "shown with --json)")  # fmt: skip
    parser.add_argument("--samples", type=cli.positive_int, default=1,
                        help=f"continuations to draw, side by side (default: 1, at most {MAX_SAMPLES})")
    parser.add_argument("--stop", action="append", default=[], metavar="WORD",
                        help="end a sample once it writes WORD (kept in the text); repeat for several")
    parser.add_argument("--include-unknown", action="store_true",
                        help="allow the unknown-word symbol <unk> in the text (default: never written)")
    parser.add_argument("--json", action="store_true",
                        help='print {"prompt", "unknown", "seed", "samples": [{"text", "tokens", '
                             '"log_probability"}]} instead of text ("tokens": the words or characters written; '
                             'a word run also names them "words"); log_probability is the natural log of the '
                             "model's probability of the tokens written, before temperature and filters")  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run_cli("word_predictor.generate", lambda: _generate(args))


# How much each level writes when not told: (its flag, the default count).
LENGTH_FLAGS = {"word": ("words", 30), "char": ("chars", 300)}


def _generate(args: argparse.Namespace) -> int:
    text = " ".join(args.text)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    predictor = cli.load_predictor(cli.chosen_run(args.run, args.logdir), args.backend, args.engine, args.verbose)
    flag, words = LENGTH_FLAGS[predictor.config.level]
    for other, _ in LENGTH_FLAGS.values():
        if other != flag and getattr(args, other) is not None:
            raise UsageError(
                f"--{other} does not fit a {predictor.config.level}-level run, which writes "
                f"{predictor.vocabulary.tokenizer.unit}s; use --{flag} N"
            )
    words = cli.capped(getattr(args, flag) or words, flag, unit=f"{flag} per sample")
    samples = cli.capped(args.samples, "samples", MAX_SAMPLES)
    stop = [_stop_token(predictor, word) for word in args.stop]

    prompt = cli.printable(text.strip(), _SHOWN_TEXT, line_breaks=True)
    started = bool(prompt)  # whether the line so far needs a space before the next word

    def show(sample: int, token: str) -> None:
        nonlocal started
        if sample == 0 and not args.json:
            # join() knows what goes between tokens (a space between words)
            shown = cli.printable(token, line_breaks=True)
            print(predictor.join(["", shown]) if started else shown, end="", flush=True)
            started = True

    if not args.json:
        print(prompt, end="", flush=True)
    generation = predictor.generate(
        text, words, samples=samples, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
        seed=seed, stop=stop, include_unknown=args.include_unknown, on_token=show,
    )  # fmt: skip
    if args.json:
        print(json.dumps({
            "prompt": text,
            "unknown": generation.unknown,
            "seed": seed,
            "samples": [_sample_json(predictor, sample) for sample in generation.samples],
        }))  # fmt: skip
        return 0
    print()
    for sample in generation.samples[1:]:
        written = cli.printable(predictor.join(sample.tokens), line_breaks=True)
        print(predictor.join([prompt, written]) if prompt else written)
    if generation.unknown:
        unknown = cli.printable(", ".join(generation.unknown))
        warn(f"unknown {predictor.vocabulary.tokenizer.unit}s in the text (read as the unknown symbol): {unknown}")
    return 0


def _sample_json(predictor, sample) -> dict:
    """"tokens" at both levels; a word run also keeps "words" (the field's first name,
    which scripts read), a char run has no "words" field, as it writes no words."""
    shown = {"text": predictor.join(sample.tokens), "tokens": sample.tokens, "log_probability": sample.log_probability}
    if predictor.config.level == "word":
        shown["words"] = sample.tokens
    return shown


def _stop_token(predictor, word: str) -> str:
    """--stop WORD as the one token of the run's vocabulary it names."""
    unit = predictor.vocabulary.tokenizer.unit
    tokens = predictor.tokenize(word)
    if len(tokens) != 1:
        raise UsageError(f"--stop {word!r} must be one {unit} after normalisation, not {len(tokens)}")
    if tokens[0] not in predictor.vocabulary:
        raise UsageError(f"--stop {word!r}: the run does not know {tokens[0]!r}, so no sample would write it")
    return tokens[0]


if __name__ == "__main__":
    sys.exit(main())
