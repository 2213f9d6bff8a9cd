"""Errors meant for people: one line, a non-zero exit code, no traceback."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Mapping

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


# How the commands that read a run (predict, generate, evaluate, export, serve, runs) name
# the settings a library error speaks of (config.SettingError's templates).
RUN_FLAGS = {
    "run": "--run", "text": "--text", "encoding_errors": "--encoding-errors", "test_fraction": "--test-fraction",
    "learning_rate": "--learning-rate", "resume": "python -m word_predictor.train --resume",
}  # fmt: skip


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


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)
