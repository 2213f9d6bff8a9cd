"""What every command's parser shares: checked number types and one-line usage errors.

Each type is an argparse `type=` function, so a bad value fails while the flags
are parsed, before a run is loaded, and argparse names the flag:

    python -m word_predictor.generate --top-p 1.5
    python -m word_predictor.generate: error: argument --top-p: must be more than 0 and at most 1, got '1.5'

Every number type refuses nan and inf, which float() would let through.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from word_predictor.errors import warn


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (the usage is left to --help), exit 2.

    Help texts state their defaults by hand ("(default: 5)"), where a default means
    something; argparse's ArgumentDefaultsHelpFormatter would add "(default: None)" or
    "(default: False)" to flags whose default says nothing.
    """

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _number(text: str, convert, what: str):
    try:
        value = convert(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def _checked(convert, what: str, allowed):
    """A type function: `convert` the text, then require `allowed(value)`, else say `what` it must be."""

    def parse(text: str):
        value = _number(text, convert, what)
        if not allowed(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    parse.__name__ = what  # argparse shows a type's name in some messages
    return parse


positive_int = _checked(int, "a whole number of at least 1", lambda value: value >= 1)
non_negative_int = _checked(int, "0 or a positive whole number", lambda value: value >= 0)
positive_float = _checked(float, "a number above 0", lambda value: value > 0)
non_negative_float = _checked(float, "0 or a positive number", lambda value: value >= 0)
probability = _checked(float, "more than 0 and at most 1", lambda value: 0 < value <= 1)
fraction = _checked(float, "at least 0 and below 1", lambda value: 0 <= value < 1)


def printable(text: str, limit: int | None = None, *, line_breaks: bool = False) -> str:
    """`text` as the terminal can show it, one line unless `line_breaks`: the end of a
    long text after "…"; control, format and separator characters (categories Cc, Cf,
    Zl, Zp: a direction override would reverse what follows, a line break would split an
    answer) as escapes such as \\u202e; characters stdout cannot encode (bytes that
    were not UTF-8 arrive as lone surrogates) as replacement marks rather than a crash."""
    if limit is not None and len(text) > limit:
        text = "…" + text[-limit:]
    if not text.isprintable():
        text = "".join(_escaped(c) if _hidden(c) and not (line_breaks and c == "\n") else c for c in text)
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    return text.encode(encoding, "replace").decode(encoding)


_HIDDEN_CATEGORIES = frozenset(("Cc", "Cf", "Zl", "Zp"))
_SHORT_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _hidden(character: str) -> bool:
    return unicodedata.category(character) in _HIDDEN_CATEGORIES


def _escaped(character: str) -> str:
    code = ord(character)
    if character in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[character]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


LONGEST_LINE = 1 << 20  # characters of one input line kept (its end); memory stays bounded
_READ_SIZE = 1 << 16


def read_lines(stream, longest: int = LONGEST_LINE) -> Iterator[tuple[int, str, int]]:
    """(number from 1, line, characters dropped from its start) for each line of a
    binary (or text) stream, split at "\\n" only, CR LF ends a line as LF does.

    A line longer than `longest` keeps its last `longest` characters (the end is what
    a next-word prediction reads), so a 50 MB line or /dev/zero never holds more than
    about `longest` + one read in memory. Bytes that are not UTF-8 become U+FFFD.
    """
    newline = b"\n" if not isinstance(stream, io.TextIOBase) else "\n"
    pending, dropped, number = newline[:0], 0, 0
    while True:
        block = stream.read(_READ_SIZE)
        if not block:
            break
        pieces = (pending + block).split(newline)
        pending = pieces.pop()
        for piece in pieces:
            number += 1
            yield number, *_kept(piece, dropped, longest)
            dropped = 0
        if len(pending) > longest:
            dropped += len(pending) - longest
            pending = pending[-longest:]
    if pending or dropped:
        yield number + 1, *_kept(pending, dropped, longest)


def _kept(piece, dropped: int, longest: int) -> tuple[str, int]:
    if len(piece) > longest:
        dropped += len(piece) - longest
        piece = piece[-longest:]
    if isinstance(piece, bytes):
        if dropped:  # do not start inside a character: skip its continuation bytes
            start = next((i for i, byte in enumerate(piece[:4]) if byte & 0xC0 != 0x80), 0)
            piece, dropped = piece[start:], dropped + start
        piece = piece.decode("utf-8", "replace")
    return piece.removesuffix("\r"), dropped


def chosen_run(run: Path | None, logdir: Path) -> Path:
    """--run as given, else the newest complete run under --logdir, named in one line on
    stderr so that the figures printed are never taken for another run's."""
    if run is not None:
        return run
    from word_predictor.rundir import newest_complete_run

    return newest_complete_run(logdir, on_note=lambda note: print(note, file=sys.stderr))


MAX_WORDS = 10_000  # words (or characters) one command writes per text: a larger count is cut to it


def capped(count: int, flag: str, most: int | None = None, unit: str | None = None) -> int:
    """`count` of --`flag`, cut to `most` with a one-line warning: a count past any sane use
    (a keyboard's prediction, a paragraph of generated text) would hold the machine for
    hours or exhaust its memory while writing nothing useful."""
    most = MAX_WORDS if most is None else most
    if count <= most:
        return count
    warn(f"--{flag} {count:,} is more than {most:,}; using {most:,}{f' {unit}' if unit else ''}")
    return most


RUN_HELP = (
    "run folder, or a folder written by python -m word_predictor.export --format onnx "
    "(default: the newest complete run)"
)


ENGINE_HELP = (
    "what answers: the ONNX model training wrote into the run folder, read by ONNX Runtime without "
    "Keras, where it gives Keras' answer, else Keras (default: auto); keras or runtime forces one "
    "(runtime refuses, in one line, a run it cannot answer for); --backend applies to Keras only"
)


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """--engine and --verbose, for every command that reads a run (word_predictor.engines)."""
    from word_predictor.engines import ENGINE_NAMES

    parser.add_argument("--engine", choices=ENGINE_NAMES, default="auto", help=ENGINE_HELP)
    parser.add_argument("--verbose", action="store_true",
                        help="say on stderr, in one line, why Keras answers where the runtime could not")


def load_predictor(folder: Path, backend_name: str | None = None, engine: str = "auto",
                   verbose: bool = False, keras_only: str | None = None):  # fmt: skip
    """A Predictor for a run folder or an exported ONNX folder, on the engine
    word_predictor.engines picks (`engine`: auto, keras or runtime); Keras, if chosen, on
    `backend_name`, selected here before Keras loads. `keras_only` names a feature the
    command needs that only the Keras model has."""
    from word_predictor import engines

    return engines.load(folder, engine, backend_name, keras_only=keras_only, verbose=verbose)
