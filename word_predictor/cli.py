"""What every command's parser shares: checked number types and one-line usage errors.

Each type is an argparse `type=` function, so a bad value fails while the flags
are parsed, before a run is loaded, and argparse names the flag:

    python -m word_predictor.generate --top-p 1.5
    python -m word_predictor.generate: error: argument --top-p: must be more than 0 and at most 1, got '1.5'

Every number type refuses nan and inf, which float() would let through.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path


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


def printable(text: str, limit: int | None = None) -> str:
    """`text` as the terminal can show it: the end of a long text after "…", and
    characters stdout cannot encode (bytes that were not UTF-8 arrive as lone
    surrogates) as replacement marks rather than a crash."""
    if limit is not None and len(text) > limit:
        text = "…" + text[-limit:]
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    return text.encode(encoding, "replace").decode(encoding)


def chosen_run(run: Path | None, logdir: Path) -> Path:
    """--run as given, else the newest complete run under --logdir, named in one line on
    stderr so that the figures printed are never taken for another run's."""
    if run is not None:
        return run
    from word_predictor.rundir import newest_complete_run

    return newest_complete_run(logdir, on_note=lambda note: print(note, file=sys.stderr))


RUN_HELP = (
    "run folder, or a folder written by python -m word_predictor.export --format onnx "
    "(default: the newest complete run)"
)


def load_predictor(folder: Path):
    """A Predictor for a run folder (Keras), or for an exported ONNX folder, recognised by its
    manifest.json (word_predictor.runtime: ONNX Runtime, Keras never loaded)."""
    from word_predictor.export.manifest import is_exported

    if is_exported(folder):
        from word_predictor.runtime import load

        return load(folder)
    from word_predictor.predictor import Predictor
    from word_predictor.rundir import load_run

    return Predictor.from_run(load_run(folder))
