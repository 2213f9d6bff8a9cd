"""Errors meant for people: one line, a non-zero exit code, no traceback."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

EXIT_OK = 0
EXIT_FAILURE = 1  # the input or the run folder is unusable
EXIT_USAGE = 2  # the command line is wrong (argparse uses 2 as well)
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports a command killed by SIGINT


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


def run_cli(prog: str, body: Callable[[], int | None]) -> int:
    """Run a command's body and turn a UserError or Ctrl-C into one line on stderr."""
    try:
        return body() or EXIT_OK
    except Interrupted as error:
        _end_terminal_line()
        print(f"{prog}: interrupted; {error}", file=sys.stderr)
        return error.exit_code
    except UserError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        _end_terminal_line()
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Whoever read our output left (`... | head`): stop quietly, and point stdout
        # at /dev/null so flushing it at exit does not fail again.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # stdout is not a file (a test's capture)
            pass
        return EXIT_FAILURE


def _end_terminal_line() -> None:
    """On a terminal a progress bar (and the ^C echoed) may have left the line open:
    end it, so the message starts a line of its own."""
    if sys.stderr.isatty():
        sys.stdout.flush()
        print(file=sys.stderr)


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)
