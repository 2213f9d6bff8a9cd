"""python -m word_predictor.serve as a user starts it: the Host check with --allow-host, and
the first Ctrl-C stopping it while a request is still in progress."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx2
import pytest

from word_predictor.server.connections import SHUTDOWN_SECONDS
from word_predictor.server.limits import DEFAULT_LIMITS

pytestmark = pytest.mark.slow  # a process that loads the tiny run


def test_the_command_answers_its_hosts_and_the_first_ctrl_c_stops_it_mid_request(trained_run):
    command = [sys.executable, "-m", "word_predictor.serve", "--run", str(trained_run), "--port", "0",
               "--allow-host", "my-box.lan", "--head-seconds", "60"]  # fmt: skip
    environment = {**os.environ, "PYTHONPATH": os.getcwd()}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    try:
        line = process.stdout.readline()
        assert line.startswith("serving "), process.stderr.read()
        url = line.split(" on ", 1)[1].split()[0].rstrip("/")
        port = int(url.rsplit(":", 1)[1])
        for host, status in [(f"localhost:{port}", 200), (f"my-box.lan:{port}", 200), (f"evil.example:{port}", 421)]:
            assert httpx2.get(f"{url}/v1/health", headers={"host": host}, timeout=10).status_code == status, host
        # A request whose body never completes: the server waits for it (up to body_seconds) ...
        slow = socket.create_connection(("127.0.0.1", port), timeout=10)
        slow.sendall(b"POST /v1/suggest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 40\r\n\r\n{")  # fmt: skip
        time.sleep(0.3)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)  # ... but not past the shutdown's bound, at the first Ctrl-C
        assert process.wait(30) == 130
        assert time.monotonic() - started < min(SHUTDOWN_SECONDS + 3, DEFAULT_LIMITS.body_seconds)
        slow.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    error = process.stderr.read()
    assert "Traceback" not in error and error.strip().splitlines()[-1] == "word_predictor.serve: interrupted"
