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
