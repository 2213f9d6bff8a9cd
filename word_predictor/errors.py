"""Errors meant for people: one line, a non-zero exit code, no traceback (cli.run_cli
turns them into that line and that code)."""

from __future__ import annotations

import sys

EXIT_OK = 0
EXIT_FAILURE = 1  # the input or the run folder is unusable
EXIT_USAGE = 2  # the command line is wrong (argparse uses 2 as well)
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports a command killed by SIGINT
EXIT_BROKEN_PIPE = 141  # the reader left (`| head`): what a shell reports for a tool killed by SIGPIPE


class EmptyTextError(ValueError):
    """A text holds no token after normalisation (a domain error: the command says what to type)."""


class AdaptationUnavailable(ValueError):
    """The engine that reads a model cannot give what learning from the text needs."""


class SettingError(ValueError):
    """A setting that cannot work, or two that cannot work together.

    The message names each setting as {field} (a Config field, or a keyword of the
    function refused) and each value as {key}, given as keyword arguments (so a value
    holding braces stays as it is). str() shows the settings' own names, and a command
    shows its names for them (its flags) with `phrased`, so the library never speaks a
    command's language:

        error = SettingError("{bptt} must be at most {most}", most=99)
        str(error)                         -> "bptt must be at most 99"
        error.phrased({"bptt": "--bptt"})  -> "--bptt must be at most 99"
    """

    def __init__(self, template: str, **values):
        super().__init__(template)
        self.template = template
        self.values = values

    def phrased(self, names: dict[str, str]) -> str:
        return self.template.format_map(_Names(names, self.values))

    def __str__(self) -> str:
        return self.phrased({})


class _Names(dict):
    """A value by its key; a setting by the name the command gives it, else its own."""

    def __init__(self, names: dict[str, str], values: dict):
        super().__init__(values)
        self.names = names

    def __missing__(self, field: str) -> str:
        return self.names.get(field, field)


class UserError(Exception):
    """Something the user can fix; the message says what and how."""

    exit_code = EXIT_FAILURE


class UsageError(UserError):
    exit_code = EXIT_USAGE


class Interrupted(UserError):
    """Ctrl-C, with what to do next (how to continue); exits as an interrupted command does."""

    exit_code = EXIT_INTERRUPTED


class OutputError(UserError):
    """Standard output cannot be written (a full disk behind it, a closed descriptor)."""


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)
