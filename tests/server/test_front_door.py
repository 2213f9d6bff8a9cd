"""The server's front door, on a tiny app (no model): serve's flag ranges, the Host check, and
the bounds on connections (time and size of a request head, connections open at once)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.server.live import live_server
from word_predictor import serve
from word_predictor.server.hosts import HostCheck, served_names
from word_predictor.server.limits import Limits


async def echo(request):
    return JSONResponse({"bytes": len(await request.body())})


def tiny_app():
    return Starlette(routes=[Route("/", echo, methods=["GET", "POST"])])


# ---- every numeric flag has a range, refused while parsing: one line, exit 2


@pytest.mark.parametrize("argv", [
    ["--batch-wait-ms", "1e308"], ["--batch-wait-ms", "100000"], ["--batch-wait-ms", "nan"], ["--batch-wait-ms", "-1"],
    ["--port", "70000"], ["--port", "-1"], ["--head-seconds", "0"], ["--head-seconds", "301"],
    ["--head-seconds", "inf"], ["--max-connections", "0"], ["--max-connections", "10001"],
    ["--max-connections", "1.5"], ["--allow-host", "http://evil.example/"], ["--allow-host", "a b"],
    ["--allow-host", ""],
])  # fmt: skip
def test_a_flag_out_of_its_range_is_one_line_and_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        serve.main(["--run", "not-loaded", *argv])
    error = capsys.readouterr().err
    assert stop.value.code == 2 and error.count("\n") == 1, error
    assert error.startswith(f"word_predictor.serve: error: argument {argv[0]}: must be ")


def test_the_ends_of_each_range_are_accepted():
    args = serve.build_parser().parse_args(["--batch-wait-ms", "1000", "--port", "65535", "--head-seconds", "300",
                                            "--max-connections", "10000", "--allow-host", "Example.ORG:8080",
                                            "--allow-host", "[fe80::1]"])  # fmt: skip
    assert (args.batch_wait_ms, args.port, args.head_seconds, args.max_connections) == (1000, 65535, 300, 10000)
    assert args.allow_host == ["example.org", "fe80::1"]


def test_the_install_hint_keeps_the_environment_keras_free():
    """The serve extra and the package's own dependencies bring no Keras, so the hint's
    install keeps the runtime-only install Keras-free."""
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"] + project["optional-dependencies"]["serve"]:
        assert not requirement.startswith(("keras", "tensorflow", "jax", "tensorboard")), requirement
    assert serve._install_hint() == "pip install -e '.[serve]'"


# ---- the Host check


@pytest.mark.parametrize(("host", "status"), [
    ("localhost:8000", 200), ("127.0.0.1:8000", 200), ("[::1]:8000", 200), ("LOCALHOST", 200), ("localhost.:8000", 200),
    ("testserver", 200),  # the address the connection arrived at (the test client's)
    ("evil.example:8000", 421), ("localhost.evil.example", 421), ("127.0.0.1.nip.io:8000", 421),
    ("evil.example:8000@localhost", 421), ("", 400),
])  # fmt: skip
def test_only_the_hosts_the_server_serves_are_answered(host, status):
    client = TestClient(HostCheck(tiny_app(), served_names("127.0.0.1")))
    response = client.get("/", headers={"host": host})
    assert response.status_code == status, response.text
    if status != 200:
        assert response.headers["content-type"] == "application/json" and "\n" not in response.text
        message = response.json()["error"]
        assert ("--allow-host NAME" in message and repr(host) in message) if host else "no Host header" in message


def test_allow_host_adds_a_name_and_the_bound_address_is_served():
    names = served_names("0.0.0.0", ["my-box.lan"])
    assert names == {"localhost", "127.0.0.1", "::1", "0.0.0.0", "my-box.lan"}  # 0.0.0.0: the start-up line's URL
    assert "my-box" in served_names("my-box", [])
    client = TestClient(HostCheck(tiny_app(), names))
    assert client.get("/", headers={"host": "my-box.lan:8000"}).status_code == 200
    assert client.get("/", headers={"host": "other.lan:8000"}).status_code == 421


# ---- the bounds on connections, on a real server with small bounds

SMALL = Limits(head_seconds=0.5, head_bytes=2048, connections=3)


@pytest.fixture(params=["httptools", "h11"])
def small_server(request):
    """A server with SMALL bounds, on each of uvicorn's HTTP parsers (h11's where httptools is not installed)."""
    if request.param == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as protocol
    else:
        from uvicorn.protocols.http.h11_impl import H11Protocol as protocol
    with live_server(tiny_app(), SMALL, protocol) as url:
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


def read_all(connection: socket.socket) -> bytes:
    answer = b""
    while chunk := connection.recv(4096):
        answer += chunk
    return answer


def test_a_connection_that_sends_nothing_is_closed_at_the_bound(small_server):
    with socket.create_connection(small_server, timeout=10) as connection:
        started = time.monotonic()
        answer = read_all(connection)
    assert time.monotonic() - started < SMALL.head_seconds + 1.5
    assert answer.startswith(b"HTTP/1.1 408 ") and b"did not arrive within 0.5 s" in answer


def test_a_head_trickled_a_byte_at_a_time_is_closed_at_the_bound(small_server):
    head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 200
    with socket.create_connection(small_server, timeout=10) as connection:
        started = time.monotonic()
        with pytest.raises(OSError):  # the server closes the connection while bytes still arrive
            for byte in head:
                connection.sendall(bytes([byte]))
                time.sleep(0.02)  # 200 bytes over 4 s, each byte well within any idle timeout
        assert time.monotonic() - started < SMALL.head_seconds + 1.5


def test_a_head_larger_than_the_bound_is_431(small_server):
    with socket.create_connection(small_server, timeout=10) as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Big: a\r\n" * 500)
        answer = read_all(connection)
    assert answer.startswith(b"HTTP/1.1 431 ") and b"larger than 2,048 bytes" in answer


def test_a_body_is_not_counted_as_a_head_and_a_kept_connection_waits_again(small_server):
    body = b"x" * 100_000  # far over head_bytes, in several reads
    with socket.create_connection(small_server, timeout=10) as connection:
        connection.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        first = connection.recv(4096)
        assert first.startswith(b"HTTP/1.1 200 ") and b'{"bytes":100000}' in first
        time.sleep(0.2)  # within the bound, the same connection answers again
        connection.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert connection.recv(4096).startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()  # then it waits for a head again, and is closed at the bound
        assert b"408" in read_all(connection) and time.monotonic() - started < SMALL.head_seconds + 1.5


def test_connections_past_the_bound_are_refused_at_once_and_served_again_after(small_server):
    held = [socket.create_connection(small_server, timeout=10) for _ in range(SMALL.connections)]
    try:
        time.sleep(0.1)
        with socket.create_connection(small_server, timeout=10) as extra:
            answer = read_all(extra)
        assert answer.startswith(b"HTTP/1.1 503 ") and b"3 connections open" in answer
    finally:
        for connection in held:
            connection.close()
    time.sleep(0.2)
    with socket.create_connection(small_server, timeout=10) as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert read_all(connection).startswith(b"HTTP/1.1 200 ")
