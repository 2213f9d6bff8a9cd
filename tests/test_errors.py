"""cli.run_cli: what the user can fix is one line and an exit code; a bug keeps its traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from word_predictor.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, Interrupted, UsageError, UserError
from word_predictor.cli import run_cli


def raising(error: BaseException):
    def body():
        raise error

    return body


@pytest.mark.parametrize(
    "error, code, line",
    [
        (UserError("the corpus is empty; add text"), 1, "prog: error: the corpus is empty; add text"),
        (UsageError("--top-k must be at least 1"), 2, "prog: error: --top-k must be at least 1"),
        (KeyboardInterrupt(), 130, "prog: interrupted"),
        (Interrupted("continue with --resume RUN"), 130, "prog: interrupted; continue with --resume RUN"),
    ],
    ids=["user error", "usage error", "ctrl-c", "interrupted with a hint"],
)
def test_what_the_user_can_fix_is_one_line_and_its_exit_code(capsys, error, code, line):
    assert run_cli("prog", raising(error)) == code
    captured = capsys.readouterr()
    assert captured.err == line + "\n" and captured.out == ""


def test_the_exit_codes_are_the_documented_ones():
    assert (EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED) == (1, 2, 130)
    assert UserError.exit_code == 1 and UsageError.exit_code == 2 and Interrupted.exit_code == 130


def test_a_body_that_returns_nothing_succeeds_and_a_code_returned_is_kept(capsys):
    assert run_cli("prog", lambda: None) == 0
    assert run_cli("prog", lambda: 3) == 3
    assert capsys.readouterr().err == ""


def test_a_bug_is_not_dressed_as_a_user_error():
    with pytest.raises(ZeroDivisionError):
        run_cli("prog", lambda: 1 / 0)


def test_a_bug_in_a_command_ends_in_a_traceback_and_a_failing_exit():
    program = "from word_predictor.cli import run_cli\nrun_cli('prog', lambda: [][1])\n"
    finished = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert finished.returncode == 1
    assert "Traceback" in finished.stderr and "IndexError" in finished.stderr
    assert "prog: error" not in finished.stderr
