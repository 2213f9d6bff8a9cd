"""python -m word_predictor.serve: the flags, the refusals, and a real start on a free port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

# The serve extra (in requirements.txt); the JAX environment of CI goes without it, as
# tests/server/conftest.py says for the server's other tests.
httpx2 = pytest.importorskip("httpx2", reason="the serve extra (pip install -e .[serve]) is not installed")

from word_predictor import serve as serve  # noqa: E402


def test_model_takes_only_an_exported_folder(tmp_path, capsys):
    assert serve.main(["--model", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "is not an exported folder" in error


def test_run_and_model_together_are_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        serve.main(["--run", str(tmp_path), "--model", str(tmp_path)])
    assert stop.value.code == 2 and "not allowed with" in capsys.readouterr().err


def test_a_port_out_of_range_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:  # refused while parsing, as every number flag's range is
        serve.main(["--run", str(tmp_path), "--port", "70000"])
    assert stop.value.code == 2 and "--port" in capsys.readouterr().err


def test_a_folder_that_is_no_run_is_refused_in_one_line(tmp_path, capsys):
    assert serve.main(["--run", str(tmp_path / "missing")]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "does not exist" in error


def test_an_address_that_cannot_be_bound_is_one_line_before_the_run_loads(tmp_path, capsys):
    run = tmp_path / "not-loaded-yet"  # chosen_run takes --run as given; the bind fails first
    host = "192.0.2.1"  # TEST-NET-1 (RFC 5737): never this machine's, and no name to look up
    assert serve.main(["--run", str(run), "--host", host, "--port", "0"]) == 1
    err = capsys.readouterr().err
    reason = "Cannot assign requested address"  # EADDRNOTAVAIL's text
    assert err == f"word_predictor.serve: error: could not listen on {host}:0: {reason}\n"


@pytest.mark.parametrize("flag, value", [("--max-sessions", "-1"), ("--max-sessions", "100001"),
                                         ("--session-positions", "0"), ("--session-positions", "100001"),
                                         ("--session-idle-seconds", "0"), ("--session-idle-seconds", "nan"),
                                         ("--session-idle-seconds", "604801")])  # fmt: skip
def test_a_session_bound_out_of_range_is_refused(tmp_path, capsys, flag, value):
    with pytest.raises(SystemExit) as stop:
        serve.main(["--run", str(tmp_path), flag, value])
    error = capsys.readouterr().err
    assert stop.value.code == 2 and flag in error and "Traceback" not in error


def test_every_flag_has_help():
    for action in serve.build_parser()._actions:
        assert action.help and len(action.help) > 10, action.option_strings


@pytest.mark.slow
def test_the_command_says_its_loopback_url_and_serves_there(trained_run):
    environment = {**os.environ, "PYTHONPATH": os.getcwd()}
    command = [sys.executable, "-m", "word_predictor.serve", "--run", str(trained_run), "--port", "0",
               "--engine", "keras", "--max-sessions", "7", "--session-positions", "9",
               "--session-idle-seconds", "60"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    try:
        line = process.stdout.readline()
        assert line.startswith("serving ") and "http://127.0.0.1:" in line, process.stderr.read()
        url = line.split(" on ", 1)[1].split()[0]
        assert httpx2.get(f"{url}v1/health", timeout=10).json()["status"] == "ok"
        model = httpx2.get(f"{url}v1/model", timeout=10).json()
        assert model["engine"] == "keras" and model["sessions"]["available"] is True
        limits = model["limits"]
        assert (limits["sessions"], limits["session_positions"], limits["session_idle_seconds"]) == (7, 9, 60)
        process.send_signal(signal.SIGINT)  # Ctrl-C: uvicorn stops, then the command exits as interrupted
        assert process.wait(20) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    error = process.stderr.read()
    assert "Traceback" not in error and error.strip().splitlines()[-1] == "word_predictor.serve: interrupted"
