"""python -m word_predictor.predict "TEXT": the likely next words after TEXT.

    predict "TEXT"               the top-k next words and a Prediction line
    predict --complete "TEX"     the known words that start with the last word, ranked
    predict --input FILE         one answer per line of FILE (- for stdin), in order
    predict --interactive        a prompt: each line typed gets its answer

Needs only a run folder (model, vocabulary, config); it never reads the corpus.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from itertools import islice
from pathlib import Path

from word_predictor import backend, cli
from word_predictor.config import DEFAULT_PROMPT
from word_predictor.errors import UsageError, UserError, run_cli

_SHOWN_TEXT = 300  # characters of a long TEXT echoed in the "Prediction:" line
_LINES_AT_ONCE = 256  # --input lines read through the model together
_PROMPT = "> "


def build_parser() -> argparse.ArgumentParser:
    parser = cli.Parser(
        prog="python -m word_predictor.predict",
        description="Print the likely next words after TEXT, using a trained run.",
    )
    parser.add_argument("text", nargs="*", metavar="TEXT",
                        help="the text so far (quote it, or give several words); not with --input or --interactive")  # fmt: skip
    backend.add_backend_argument(parser)
    parser.add_argument("--run", type=Path, help=cli.RUN_HELP)
    parser.add_argument("--logdir", type=Path, default=Path("logs"), help="where runs live (default: logs)")
    parser.add_argument("--top-k", type=cli.positive_int, default=5,
                        help="how many next words (or completions) to list (default: 5)")  # fmt: skip
    parser.add_argument("--words", type=cli.positive_int,
                        help="how many words to add in the Prediction line, each the likeliest after the "
                             "last (default: 1; TEXT only)")  # fmt: skip
    parser.add_argument("--complete", action="store_true",
                        help="the last word is still being typed: list the known words that start with it, "
                             "ranked by the model given the words before it")  # fmt: skip
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--input", metavar="FILE",
                        help="answer each line of FILE (- for stdin) in order, one answer per line; an empty "
                             "line is answered from the start of a text (the commonest words)")  # fmt: skip
    source.add_argument("--interactive", action="store_true",
                        help="load the run once, then answer each line typed: the next words, and completions "
                             "of the last word unless the line ends in a space; Ctrl-D or Ctrl-C leaves")  # fmt: skip
    parser.add_argument("--include-unknown", action="store_true",
                        help="allow the unknown-word symbol among the suggestions")  # fmt: skip
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (one per line with --input or --interactive) instead of text")  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli("word_predictor.predict", lambda: _predict(args))


def _predict(args: argparse.Namespace) -> int:
    text = " ".join(args.text)  # a trailing space matters to a character run: the word has ended
    many = args.input is not None or args.interactive
    if many and args.text:
        raise UsageError("give TEXT, or --input or --interactive, not both")
    if many and args.words is not None:
        raise UsageError("--words applies to a single TEXT, not to --input or --interactive")
    if args.complete and args.interactive:
        raise UsageError("--interactive already completes a last word not followed by a space; drop --complete")
    if args.complete and args.words is not None:
        raise UsageError("--words adds whole words; --complete lists completions of the last one; choose one")
    if not many and not text.strip():
        raise UsageError(f'TEXT is empty; try: python -m word_predictor.predict "{DEFAULT_PROMPT}"')
    backend.select(args.backend)
    from word_predictor.predictor.predictor import EmptyTextError

    predictor = cli.load_predictor(cli.chosen_run(args.run, args.logdir))
    if args.interactive:
        return _interactive(predictor, args)
    if args.input is not None:
        return _answer_lines(predictor, args)
    try:
        if args.complete:
            return _print_completions(predictor, predictor.complete(text, args.top_k), args.json)
        suggestions = predictor.suggest(text, args.top_k, args.include_unknown)
    except EmptyTextError:
        raise UsageError(
            "the text has no words after normalisation (only letters, digits and apostrophes inside words "
            "count); give some words"
        ) from None
    if args.json:
        print(json.dumps(_suggestions_json(suggestions)))
        return 0
    print(f"context: {predictor.join(suggestions.context)}")
    if suggestions.unknown:
        print(f"unknown words (read as the unknown symbol): {', '.join(suggestions.unknown)}")
    _print_ranked(suggestions.predictions)
    words = args.words or 1
    added = [suggestions.predictions[0][0]] if words == 1 else predictor.continue_text(text, words)
    print(f"Prediction: {predictor.join([cli.printable(text, _SHOWN_TEXT), *added])}")
    if predictor.config.level == "char":
        ending = predictor.complete_word(text)
        if ending:
            print(f"Word: {_last_word(text)}{ending}")
    return 0


def _last_word(text: str) -> str:
    """The letters typed so far of the word at the end of `text`."""
    kept = ""
    for character in reversed(text):
        if not (character.isalnum() or character in "'-"):
            break
        kept = character + kept
    return kept


_SHOWN_TOKENS = {" ": "(space)", "\n": "(new line)", "\t": "(tab)"}  # characters that would print as nothing


def _print_ranked(ranked: list[tuple[str, float]]) -> None:
    ranked = [(_SHOWN_TOKENS.get(word, word), p) for word, p in ranked]
    width = max(len(word) for word, _ in ranked)
    for rank, (word, probability) in enumerate(ranked, 1):
        print(f"{rank:>3}. {word:<{width}}  {probability:.4f}")


def _print_completions(predictor, completions, as_json: bool) -> int:
    if as_json:
        print(json.dumps(_completions_json(completions)))
        return 0
    print(f"context: {predictor.join(completions.context)}")
    if completions.unknown:
        print(f"unknown words (read as the unknown symbol): {', '.join(completions.unknown)}")
    if not completions.completions:
        print(f"no known word starts with {completions.prefix!r}")
        return 0
    print(f"words that start with {completions.prefix!r}:")
    _print_ranked(completions.completions)
    return 0


def _ranked_json(ranked: list[tuple[str, float]]) -> list[dict]:
    return [{"word": word, "probability": probability} for word, probability in ranked]


def _suggestions_json(suggestions) -> dict:
    return {
        "context": suggestions.context,
        "unknown": suggestions.unknown,
        "predictions": _ranked_json(suggestions.predictions),
    }


def _completions_json(completions) -> dict:
    return {
        "context": completions.context,
        "prefix": completions.prefix,
        "unknown": completions.unknown,
        "completions": _ranked_json(completions.completions),
    }


def _suggestions_line(suggestions) -> str:
    return f"next: {_one_line(suggestions.predictions)}"


def _one_line(ranked: list[tuple[str, float]]) -> str:
    return ", ".join(f"{word} ({probability:.3f})" for word, probability in ranked)


# ---------------------------------------------------------------- --input


def _answer_lines(predictor, args: argparse.Namespace) -> int:
    """Each line of --input, answered in order, `_LINES_AT_ONCE` lines per model call."""
    if args.input == "-":
        source = contextlib.nullcontext(_lenient_stdin())
    else:
        try:
            source = open(args.input, encoding="utf-8", errors="replace")
        except OSError as error:
            raise UserError(f"cannot read --input {args.input}: {error.strerror or error}") from None
    with source as text:
        lines = (line.rstrip("\r\n") for line in text)
        while batch := list(islice(lines, _LINES_AT_ONCE)):
            if args.complete:
                answers = predictor.complete_many(batch, args.top_k)
                shown = [_completions_json(a) if args.json else _completions_line(a) for a in answers]
            else:
                answers = predictor.suggest_many(batch, args.top_k, args.include_unknown)
                shown = [_suggestions_json(a) if args.json else _suggestions_line(a) for a in answers]
            for answer in shown:
                print(json.dumps(answer) if args.json else answer)
            sys.stdout.flush()
    return 0


def _lenient_stdin():
    """stdin with bytes that are not UTF-8 read as replacement marks, as --input FILE reads them."""
    if hasattr(sys.stdin, "reconfigure"):  # a real stream, not a test's StringIO
        sys.stdin.reconfigure(errors="replace")
    return sys.stdin


def _completions_line(completions) -> str:
    if not completions.completions:
        return f"complete {completions.prefix!r}: no known word starts with it"
    return f"complete {completions.prefix!r}: {_one_line(completions.completions)}"


# ---------------------------------------------------------------- --interactive


def _interactive(predictor, args: argparse.Namespace) -> int:
    """Answer each line until end of input (Ctrl-D) or Ctrl-C, both a clean exit 0.

    At a terminal it shows a prompt; from a pipe it reads line by line and writes
    one answer line per line read, flushed, so another program can drive it.
    """
    at_terminal = sys.stdin.isatty()
    if at_terminal:
        try:
            import readline  # noqa: F401  line editing and history for input()
        except ImportError:
            pass
        print("type some words and Enter: the next words, and completions of the last word unless the line "
              "ends in a space; Ctrl-D leaves", file=sys.stderr)  # fmt: skip
    else:
        _lenient_stdin()
    try:
        while True:
            if at_terminal:
                line = input(_PROMPT)
            else:
                line = sys.stdin.readline()
                if not line:
                    break
                line = line.rstrip("\r\n")
            print(_interactive_answer(predictor, line, args), flush=True)
    except EOFError:
        print(flush=True)
    except KeyboardInterrupt:
        print(flush=True)
    return 0


def _interactive_answer(predictor, line: str, args: argparse.Namespace) -> str:
    """The next words after `line`; with completions of its last word when the word is
    still being typed (the line does not end in a space)."""
    [suggestions] = predictor.suggest_many([line], args.top_k, args.include_unknown)
    typing = bool(line) and not line[-1].isspace() and bool(predictor.tokens(line))
    completions = predictor.complete_many([line], args.top_k)[0] if typing else None
    if args.json:
        answer = _suggestions_json(suggestions) | {"text": line}
        answer["completions"] = _completions_json(completions) if completions else None
        return json.dumps(answer)
    shown = _suggestions_line(suggestions)
    if completions:
        shown += f" | {_completions_line(completions)}"
    return shown


if __name__ == "__main__":
    sys.exit(main())
