"""What every command shares: the runner that turns errors into one line and an exit code
(run_cli), a flag's name from its setting's, checked number types and one-line usage errors.

Each type is an argparse `type=` function, so a bad value fails while the flags
are parsed, before a run is loaded, and argparse names the flag:

    python -m word_predictor.generate --top-p 1.5
    word_predictor.generate: error: argument --top-p: must be more than 0 and at most 1, got '1.5'

Every number type refuses nan and inf, which float() would let through.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import sys
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from word_predictor.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Interrupted,
    OutputError,
    UserError,
    warn,
)


def flag_of(setting: str) -> str:
    """The flag that sets `setting` (a Config field, or a command's keyword): the one rule for a flag's name."""
    return "--" + setting.replace("_", "-")


# How the commands that read a run (predict, generate, evaluate, export, serve, runs) name
# the settings a library error speaks of (config.SettingError's templates).
RUN_FLAGS = {name: flag_of(name) for name in ("run", "text", "encoding_errors", "test_fraction", "learning_rate")}
RUN_FLAGS["resume"] = f"python -m word_predictor.train {flag_of('resume')}"


def run_cli(prog: str, body: Callable[[], int | None], flags: Mapping[str, str] = RUN_FLAGS) -> int:
    """Run a command's body and turn a UserError, Ctrl-C or unwritable output into one
    line on stderr; an error that names settings (config.SettingError) names them as
    `flags` says. Output is flushed inside, so a write that fails at the end fails
    here, not in Python's exit handler."""
    if sys.stdout is None:  # started with stdout closed (`>&-`): nothing could be shown
        print(f"{prog}: error: standard output is closed; nothing would be shown", file=sys.stderr)
        return EXIT_FAILURE
    real_stdout = sys.stdout
    sys.stdout = _WatchedOutput(real_stdout)
    try:
        code = body() or EXIT_OK
        sys.stdout.flush()
        return code
    except Interrupted as error:
        _end_terminal_line()
        print(f"{prog}: interrupted; {error}", file=sys.stderr)
        return error.exit_code
    except OutputError as error:
        _discard_output(real_stdout)
        print(f"{prog}: error: {error}", file=sys.stderr)
        return error.exit_code
    except UserError as error:
        phrased = error.phrased(flags) if hasattr(error, "phrased") else str(error)
        print(f"{prog}: error: {phrased}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        _end_terminal_line()
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Whoever read our output left (`... | head`): stop quietly, as Unix tools do.
        _discard_output(real_stdout)
        return EXIT_BROKEN_PIPE
    finally:
        sys.stdout = real_stdout


class _WatchedOutput:
    """stdout, with a failed write (other than a reader leaving) raised as OutputError;
    everything else (encoding, isatty, fileno, buffer) is stdout's own."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        return self._guarded(self._stream.write, text)

    def flush(self) -> None:
        self._guarded(self._stream.flush)

    def _guarded(self, call, *arguments):
        try:
            return call(*arguments)
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as error:  # ValueError: the stream was closed
            reason = getattr(error, "strerror", None) or str(error)
            raise OutputError(f"cannot write the output: {reason}") from None

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _discard_output(stream) -> None:
    """Point stdout at /dev/null, so that flushing what is still buffered at exit does
    not fail a second time (and print Python's own complaint)."""
    try:
        stream.flush()
    except (OSError, ValueError):
        pass
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):  # a test's capture has no descriptor
        pass


def _end_terminal_line() -> None:
    """On a terminal a progress bar (and the ^C echoed) may have left the line open:
    end it, so the message starts a line of its own."""
    if sys.stderr.isatty():
        sys.stdout.flush()
        print(file=sys.stderr)




class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (the usage is left to --help), exit 2.

    Help texts state their defaults by hand ("(default: 5)"), where a default means
    something; argparse's ArgumentDefaultsHelpFormatter would add "(default: None)" or
    "(default: False)" to flags whose default says nothing.
    """

    def error(self, message: str):
        # The name errors.run_cli gives the command's other errors ("python -m" belongs to
        # the usage line): every error of a command starts the same way.
        self.exit(2, f"{self.prog.removeprefix('python -m ')}: error: {message} (see --help)\n")


class OldName(argparse.Action):
    """A flag's former name, left out of --help: still read, with a one-line note of the
    name to use (`add_argument("--old", dest=..., action=OldName, new_name="--new")`)."""

    def __init__(self, option_strings, dest, new_name: str, **kwargs):
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)
        self.new_name = new_name

    def __call__(self, parser, namespace, values, option_string=None):
        warn(f"{option_string} is an old name of {self.new_name}; use {self.new_name}")
        setattr(namespace, self.dest, values)


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


class InvalidLine(ValueError):
    """A line holds bytes that are not UTF-8: `line` (from 1), `column` (its byte, from 1), `byte`."""

    def __init__(self, line: int, column: int, byte: int):
        super().__init__(f"line {line} is not valid UTF-8 at byte {column} ({byte:#04x})")
        self.line, self.column, self.byte = line, column, byte


def read_lines(stream, longest: int = LONGEST_LINE, errors: str = "replace",
               on_invalid: Callable[[InvalidLine], None] | None = None) -> Iterator[tuple[int, str, int]]:  # fmt: skip
    """(number from 1, line, characters dropped from its start) for each line of a
    binary (or text) stream, split at "\\n" only, CR LF ends a line as LF does.

    A line longer than `longest` keeps its last `longest` characters (the end is what
    a next-word prediction reads), so a 50 MB line or /dev/zero never holds more than
    about `longest` + one read in memory. Bytes that are not UTF-8 are decoded with the
    codec error handler `errors` (corpus.files.DECODE_ERRORS names the settings' ones):
    "strict" raises InvalidLine; any other calls `on_invalid` with the line's first.
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
            yield number, *_kept(piece, dropped, longest, number, errors, on_invalid)
            dropped = 0
        if len(pending) > longest:
            dropped += len(pending) - longest
            pending = pending[-longest:]
    if pending or dropped:
        yield number + 1, *_kept(pending, dropped, longest, number + 1, errors, on_invalid)


def _kept(piece, dropped: int, longest: int, number: int, errors: str, on_invalid) -> tuple[str, int]:
    if len(piece) > longest:
        dropped += len(piece) - longest
        piece = piece[-longest:]
    if isinstance(piece, bytes):
        if dropped:  # do not start inside a character: skip its continuation bytes
            start = next((i for i, byte in enumerate(piece[:4]) if byte & 0xC0 != 0x80), 0)
            piece, dropped = piece[start:], dropped + start
        try:
            piece = piece.decode("utf-8")
        except UnicodeDecodeError as error:
            invalid = InvalidLine(number, dropped + error.start + 1, piece[error.start])
            if errors == "strict":
                raise invalid from None
            if on_invalid is not None:
                on_invalid(invalid)
            piece = piece.decode("utf-8", errors)
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
                   verbose: bool = False, keras_only: str | None = None, adapts: bool = False):  # fmt: skip
    """A Predictor for a run folder or an exported ONNX folder, on the engine
    word_predictor.engines picks (`engine`: auto, keras or runtime); Keras, if chosen, on
    `backend_name`, selected here before Keras loads. `keras_only` names a feature the
    command needs that only the Keras model has."""
    from word_predictor import engines

    return engines.load(folder, engine, backend_name, keras_only=keras_only, verbose=verbose, adapts=adapts)


# ---------------------------------------------------------------- adaptation (evaluate --adapt, predict)

ADAPTATIONS = ("cache", "dynamic")
DEFAULT_ADAPTATION = "cache"  # what --adapt alone means: as good as dynamic, at a fraction of its time (benchmarks/adaptation.py)
ADAPTATION_FLAGS = {
    "cache_size": "--cache-size", "cache_theta": "--cache-theta", "cache_lambda": "--cache-lambda",
    "dynamic_rate": "--dynamic-rate", "dynamic_decay": "--dynamic-decay", "dynamic_segment": "--dynamic-segment",
}  # fmt: skip
unit_interval = _checked(float, "a number from 0 to 1", lambda value: 0 <= value <= 1)


def adaptation_kinds(text: str) -> tuple[str, ...]:
    """--adapt's value: adaptations named with commas (cache,dynamic), each once."""
    kinds = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [kind for kind in kinds if kind not in ADAPTATIONS]
    if not kinds or unknown:
        raise argparse.ArgumentTypeError(f"choose {', '.join(ADAPTATIONS)} or both (cache,dynamic), got {text!r}")
    return tuple(dict.fromkeys(kinds))


adaptation_kinds.__name__ = "adaptation"


# flag -> (the settings class, its field, the flag's type)
_ADAPTATION_SETTINGS = {
    "cache": [("cache_size", "size", positive_int, "positions the cache keeps, the oldest dropped first"),
              ("cache_theta", "theta", non_negative_float, "how sharply the cache prefers positions like the current one"),
              ("cache_lambda", "mix", unit_interval, "the cache's share of each distribution, from 0 to 1")],
    "dynamic": [("dynamic_rate", "rate", positive_float, "dynamic evaluation's SGD step size"),
                ("dynamic_decay", "decay", unit_interval, "the pull back toward the trained weights after each step"),
                ("dynamic_segment", "segment", positive_int, "tokens scored, then learned from, at a time")],
}  # fmt: skip


def add_adaptation_arguments(parser: argparse.ArgumentParser, kinds: tuple[str, ...], help_text: str) -> None:
    """--adapt [KINDS] and the settings of the adaptations in `kinds`; their defaults and
    ranges are the library's (word_predictor.adaptation.settings)."""
    from word_predictor.adaptation.settings import CacheSettings, DynamicSettings, default_of

    classes = {"cache": CacheSettings, "dynamic": DynamicSettings}
    parser.add_argument("--adapt", nargs="?", const=(DEFAULT_ADAPTATION,), type=adaptation_kinds, metavar="KINDS",
                        help=help_text)  # fmt: skip
    for kind in kinds:
        for name, field, kind_type, help_line in _ADAPTATION_SETTINGS[kind]:
            default = default_of(classes[kind], field)
            parser.add_argument(ADAPTATION_FLAGS[name], dest=name, type=kind_type,
                                help=f"{help_line} (default: {default})")  # fmt: skip


def adaptation_settings(args: argparse.Namespace, kinds: tuple[str, ...]):
    """(CacheSettings or None, DynamicSettings or None) for the adaptations in `kinds`,
    from the flags given (the rest left to their defaults); a value out of range is a
    UsageError naming its flag."""
    from word_predictor.adaptation.settings import CacheSettings, DynamicSettings
    from word_predictor.config import SettingError
    from word_predictor.errors import UsageError

    classes = {"cache": CacheSettings, "dynamic": DynamicSettings}
    chosen = {}
    for kind in ADAPTATIONS:
        given = {field: getattr(args, name) for name, field, _, _ in _ADAPTATION_SETTINGS[kind]
                 if getattr(args, name, None) is not None}  # fmt: skip
        try:
            chosen[kind] = classes[kind](**given) if kind in kinds else None
        except SettingError as error:
            raise UsageError(error.phrased(ADAPTATION_FLAGS)) from None
    return chosen["cache"], chosen["dynamic"]
