"""python -m word_predictor.predict "TEXT": the likely next words after TEXT.

    predict "TEXT"               the top-k next words and a Prediction line
    predict --complete "TEX"     the likeliest ends of the word being typed, ranked (words that
                                 start with it; at char level a small beam over characters)
    predict --input FILE         one answer per line of FILE (- for stdin), in order; a line
                                 over cli.LONGEST_LINE bytes is answered from its end
    predict --interactive        a prompt: each line typed gets its answer; it learns the words
                                 typed (a continuous cache): :learned says what, :forget forgets
    predict --input FILE --adapt one answer per line, learning from each line before the next

Needs only a run folder (model, vocabulary, config); it never reads the corpus.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from word_predictor import backend, cli
from word_predictor.config import DEFAULT_PROMPT
from word_predictor.corpus.files import DECODE_ERRORS, ENCODING_ERRORS
from word_predictor.errors import EmptyTextError, UsageError, UserError, warn

_SHOWN_TEXT = 300  # characters of a long TEXT echoed in the "Prediction:" line
_LINES_AT_ONCE = 256  # --input lines read through the model together ...
_TEXT_AT_ONCE = 1 << 20  # ... or fewer, once they hold this many characters
_PROMPT = "> "


def build_parser() -> argparse.ArgumentParser:
    parser = cli.Parser(
        prog="python -m word_predictor.predict",
        description="Print the likely next words after TEXT, using a trained run.",
    )
    parser.add_argument("text", nargs="*", metavar="TEXT",
                        help="the text so far (quote it, or give several words); not with --input or --interactive")  # fmt: skip
    backend.add_backend_argument(parser)
    cli.add_engine_arguments(parser)
    parser.add_argument("--run", type=Path, help=cli.RUN_HELP)
    parser.add_argument("--logdir", type=Path, default=Path("logs"), help="where runs live (default: logs)")
    parser.add_argument("--top-k", type=cli.positive_int, default=5,
                        help="how many next words (or completions) to list (default: 5)")  # fmt: skip
    parser.add_argument("--words", type=cli.positive_int,
                        help="how many words to add in the Prediction line, each the likeliest after the "
                             f"last (default: 1, at most {cli.MAX_WORDS:,}; TEXT only)")  # fmt: skip
    parser.add_argument("--complete", action="store_true",
                        help="the last word is still being typed: list the likeliest words that start with "
                             "it, ranked by the model given the text before it (a character run completes "
                             "it character by character, up to the next word boundary)")  # fmt: skip
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--input", metavar="FILE",
                        help="answer each line of FILE (- for stdin) in order, one answer per line (with "
                             "--json, each names its line); an empty line is answered from the start of a text "
                             "(the commonest words); a line over 1 MiB is answered from its end, with a warning")  # fmt: skip
    source.add_argument("--interactive", action="store_true",
                        help="load the run once, then answer each line typed: the next words, and completions "
                             "of the last word unless the line ends in a space; Ctrl-D or Ctrl-C leaves")  # fmt: skip
    parser.add_argument("--encoding-errors", choices=ENCODING_ERRORS, default="strict",
                        help="--input bytes that are not UTF-8: strict refuses the line, naming the byte; replace "
                             "reads them as a word break; skip drops them (both with a warning) "
                             "(default: strict)")  # fmt: skip
    parser.add_argument("--include-unknown", action="store_true",
                        help="allow the unknown-word symbol among the suggestions")  # fmt: skip
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (one per line with --input or --interactive) instead of text")  # fmt: skip
    cli.add_adaptation_arguments(
        parser, ("cache",),
        "learn from the text as it is read, lines in order as one continuing text (--interactive always does): "
        "a continuous cache of the words typed, a word outside the vocabulary offered once typed twice; "
        "KINDS: cache (the only kind predict has); with --input or --interactive",
    )  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run_cli("word_predictor.predict", lambda: _predict(args))


def _predict(args: argparse.Namespace) -> int:
    text = " ".join(args.text)  # a trailing space matters to a character run: the word has ended
    _check_flags(args, text)

    predictor = _load(args)
    if args.interactive:
        return _interactive(predictor, args)
    if args.input is not None:
        return _answer_lines(predictor, args)
    try:
        if args.complete:
            return _print_completions(predictor, predictor.complete(text, args.top_k), args.json)
        suggestions = predictor.suggest(text, args.top_k, args.include_unknown)
    except EmptyTextError:
        raise _empty_text() from None
    if args.json:
        print(json.dumps(_suggestions_json(suggestions)))
        return 0
    _say(f"context: {predictor.join(suggestions.context)}")
    _print_unknown(predictor, suggestions.unknown)
    _print_ranked(suggestions.predictions)
    words = cli.capped(args.words or 1, "words")
    added = [suggestions.predictions[0][0]] if words == 1 else predictor.continue_text(text, words)
    _say(f"Prediction: {predictor.join([cli.printable(text, _SHOWN_TEXT), *added])}")
    if predictor.config.level == "char":
        typing = predictor.complete(text, 1)
        if typing.prefix and typing.completions:
            _say(f"Word: {typing.completions[0][0]}")
    return 0


def _check_flags(args: argparse.Namespace, text: str) -> None:
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
        raise _empty_text()
    if args.adapt is not None and not many:
        raise UsageError("--adapt learns from line to line: use it with --input or --interactive")
    if args.adapt is not None and "dynamic" in args.adapt:
        raise UsageError("predict learns with the cache only (--adapt cache); dynamic evaluation is evaluate's")
    if args.adapt is None and not args.interactive:
        given = [flag for name, flag in cli.ADAPTATION_FLAGS.items() if getattr(args, name, None) is not None]
        if given:
            raise UsageError(f"{given[0]} sets the cache; add --adapt")


def _empty_text() -> UsageError:
    """The one refusal of a TEXT with nothing to read: empty as given, or once normalised
    (only spaces, punctuation or invisible format characters)."""
    return UsageError(f'TEXT holds nothing to read (no letters or digits); try: python -m word_predictor.predict '
                      f'"{DEFAULT_PROMPT}"')  # fmt: skip


def _say(line: str) -> None:
    """Print one line with no control character raw (a direction override would reverse
    what follows; a line break would split an answer in two)."""
    print(cli.printable(line))


_SHOWN_TOKENS = {" ": "(space)", "\n": "(new line)", "\t": "(tab)"}  # characters that would print as nothing


def _print_unknown(predictor, unknown: list[str]) -> None:
    if unknown:
        unit = predictor.vocabulary.tokenizer.unit
        _say(f"unknown {unit}s (read as the unknown symbol): {', '.join(unknown)}")


def _print_ranked(ranked: list[tuple[str, float]]) -> None:
    ranked = [(cli.printable(_SHOWN_TOKENS.get(word, word)), p) for word, p in ranked]
    width = max(len(word) for word, _ in ranked)
    for rank, (word, probability) in enumerate(ranked, 1):
        _say(f"{rank:>3}. {word:<{width}}  {probability:.4f}")


def _print_completions(predictor, completions, as_json: bool) -> int:
    if as_json:
        print(json.dumps(_completions_json(completions)))
        return 0
    _say(f"context: {predictor.join(completions.context)}")
    _print_unknown(predictor, completions.unknown)
    if not completions.completions:
        _say(f"no known word starts with {completions.prefix!r}")
        return 0
    _say(f"words that start with {completions.prefix!r}:")
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
    """Each line of --input, answered in order, a line of output per line of input:
    up to `_LINES_AT_ONCE` lines (or `_TEXT_AT_ONCE` characters) per model call. A line
    longer than `cli.LONGEST_LINE` is answered from its end, with a warning."""
    source = _input_source(args.input)
    at_once = 1 if _learns(predictor) else _LINES_AT_ONCE  # each line learned before the next is answered
    with source as stream:
        batch, size = [], 0
        try:
            for number, line, dropped in cli.read_lines(stream, errors=DECODE_ERRORS[args.encoding_errors],
                                                        on_invalid=_InvalidOnce(args.encoding_errors)):  # fmt: skip
                if dropped:
                    warn(f"--input line {number} is longer than {cli.LONGEST_LINE:,} bytes; answered from its "
                         f"last {len(line):,} characters ({dropped:,} bytes dropped from its start)")  # fmt: skip
                batch.append((number, line))
                size += len(line)
                if len(batch) == at_once or size >= _TEXT_AT_ONCE:
                    _answer_batch(predictor, args, batch)
                    batch, size = [], 0
        except cli.InvalidLine as error:  # the lines before it are answered, as they would have been
            if batch:
                _answer_batch(predictor, args, batch)
            raise UserError(f"--input {args.input}: {error}; fix or convert it, or set --encoding-errors "
                            "replace|skip") from None  # fmt: skip
        if batch:
            _answer_batch(predictor, args, batch)
    return 0


class _InvalidOnce:
    """Warns of the first line of --input that is not UTF-8 (and says that others may follow)."""

    def __init__(self, setting: str):
        self.setting, self.warned = setting, False

    def __call__(self, error: cli.InvalidLine) -> None:
        if not self.warned:
            done = "read as word breaks" if self.setting == "replace" else "dropped"
            warn(f"--input {error}; bytes that are not UTF-8 are {done} (--encoding-errors {self.setting}), "
                 "here and in any later line")  # fmt: skip
            self.warned = True


def _input_source(name: str):
    if name == "-":  # bytes where stdin has them (a test's StringIO has text)
        return contextlib.nullcontext(getattr(sys.stdin, "buffer", sys.stdin))
    try:
        return open(name, "rb")
    except OSError as error:
        raise UserError(f"cannot read --input {name}: {error.strerror or error}") from None


def _answer_batch(predictor, args: argparse.Namespace, batch: list[tuple[int, str]]) -> None:
    """One line out per line in: JSON with its line number, or text with nothing raw that
    could split or reorder it."""
    lines = [line for _, line in batch]
    learned = [predictor.learn(line, not args.complete) for line in lines] if _learns(predictor) else None
    if args.complete:
        answers = predictor.complete_many(lines, args.top_k)
        shown = [_completions_json(a) if args.json else _completions_line(a) for a in answers]
    else:
        answers = predictor.suggest_many(lines, args.top_k, args.include_unknown)
        shown = [_suggestions_json(a) if args.json else _suggestions_line(a) for a in answers]
    for index, ((number, _), answer) in enumerate(zip(batch, shown)):
        if args.json:
            print(json.dumps({"line": number, **answer} | ({"learned": learned[index]} if learned else {})))
        else:
            _say(answer)
            _announce(predictor, learned[index] if learned else [])
    sys.stdout.flush()


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
        if _learns(predictor):
            print("it learns the words typed here, in memory only: :learned shows what, :forget forgets it",
                  file=sys.stderr)  # fmt: skip
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
            print(cli.printable(_interactive_answer(predictor, line, args)), flush=True)
    except EOFError:
        print(flush=True)
    except KeyboardInterrupt:
        print(flush=True)
    return 0


def _interactive_answer(predictor, line: str, args: argparse.Namespace) -> str:
    """The next words after `line`; with completions of its last word when the word is
    still being typed (the line does not end in a space). A session that learns caches
    the line's finished words first (a prompt command is answered instead)."""
    typing = bool(line) and not line[-1].isspace() and bool(predictor.tokenize(line))
    learned = None
    if _learns(predictor):
        command = _prompt_command(predictor, line, args.json)
        if command is not None:
            return command
        learned = predictor.learn(line, not typing)
        if not args.json:
            _announce(predictor, learned)
    [suggestions] = predictor.suggest_many([line], args.top_k, args.include_unknown)
    completions = predictor.complete_many([line], args.top_k)[0] if typing else None
    if args.json:
        answer = _suggestions_json(suggestions) | {"text": line}
        answer["completions"] = _completions_json(completions) if completions else None
        if learned is not None:
            answer["learned"] = learned
        return json.dumps(answer)
    shown = _suggestions_line(suggestions)
    if completions:
        shown += f" | {_completions_line(completions)}"
    return shown


# ---------------------------------------------------------------- learning (--interactive, --adapt)


def _load(args: argparse.Namespace):
    """The run's Predictor; one that learns (predictor.adaptive) for --interactive and --adapt,
    on whichever engine gives the hidden state (the runtime does: word_predictor.engines).
    An export too old to give it: --adapt is refused, --interactive answers without learning."""
    from word_predictor.errors import AdaptationUnavailable

    folder = cli.chosen_run(args.run, args.logdir)
    learning = args.interactive or args.adapt is not None
    cache, _ = cli.adaptation_settings(args, ("cache",)) if learning else (None, None)  # before the model loads
    predictor = cli.load_predictor(folder, args.backend, args.engine, args.verbose, adapts=learning)
    if not learning:
        return predictor
    from word_predictor.predictor.adaptive import AdaptivePredictor

    try:
        return AdaptivePredictor.over(predictor, cache)
    except AdaptationUnavailable as error:
        if args.adapt is not None:
            raise UserError(f"--adapt cannot be used here: {error}") from None
        warn(f"{error}; nothing typed is learned")
        return predictor


def _learns(predictor) -> bool:
    return hasattr(predictor, "learn")


def _announce(predictor, new_words: list[str]) -> None:
    """A line on stderr for each new word (a character run: character) picked up, beside
    the answers on stdout."""
    for word in new_words:
        print(cli.printable(f"learned a new {predictor.vocabulary.tokenizer.unit}: {word}"), file=sys.stderr,
              flush=True)  # fmt: skip


def _prompt_command(predictor, line: str, as_json: bool) -> str | None:
    """The prompt's own commands: :learned (what the session has learned) and :forget."""
    if line.strip() == ":forget":
        predictor.forget()
        return json.dumps({"forgotten": True}) if as_json else "forgotten: nothing learned is kept"
    if line.strip() != ":learned":
        return None
    words = predictor.learned()
    positions = len(predictor.cache)
    if as_json:
        return json.dumps({"learned": dict(words.most_common()), "positions": positions})
    shown = ", ".join(f"{word} ({count})" for word, count in words.most_common()) or "none yet"
    unit = predictor.vocabulary.tokenizer.unit
    return f"learned: {positions} positions of text in the cache; new {unit}s: {shown}"


if __name__ == "__main__":
    sys.exit(main())
