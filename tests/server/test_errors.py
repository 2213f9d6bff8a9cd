"""Bad input through the HTTP test client: each case gets its 4xx and one line of JSON naming
the problem, never a traceback, and the server answers the next request as before."""

from __future__ import annotations

import json
import socket
import time

import httpx2
import pytest

from word_predictor.server.app import make_app
from word_predictor.server.limits import Limits
from tests.server.live import live_server

pytestmark = pytest.mark.slow  # each test answers from a trained tiny run

LIMITS = Limits()
JSON = {"content-type": "application/json"}

# (name, method, path, body: a JSON value or raw bytes, headers, status, a word the message holds)
CASES = [
    ("invalid JSON", "POST", "/v1/suggest", b'{"text": "the', JSON, 400, "JSON"),
    ("JSON with a trailing comma", "POST", "/v1/suggest", b'{"text": "the",}', JSON, 400, "JSON"),
    ("invalid UTF-8", "POST", "/v1/suggest", b'{"text": "\xff\xfe"}', JSON, 400, "UTF-8"),
    ("JSON nested too deep", "POST", "/v1/suggest", b"[" * 100_000 + b"]" * 100_000, JSON, 400, "nests too deep"),
    ("valid JSON, then more", "POST", "/v1/suggest", b'{"text": "the"} garbage', JSON, 400,
     "extra data after the JSON value at byte 16"),
    ("valid JSON, then bytes that are not UTF-8", "POST", "/v1/suggest", b'{"text": "the"}\xff\xfe', JSON, 400,
     "not valid UTF-8 at byte 15"),
    ("a Host that is not this server's", "GET", "/v1/health", None, {"host": "evil.example"}, 421, "--allow-host"),
    ("a lone surrogate in the text", "POST", "/v1/complete", b'{"text": "the \\ud800"}', JSON, 422, "text"),
    ("a key given twice, the last a number", "POST", "/v1/suggest", b'{"text": "a", "text": 5}', JSON, 422, "text"),
    ("empty body", "POST", "/v1/suggest", b"", JSON, 422, "required"),
    ("a list, not an object", "POST", "/v1/suggest", ["the"], JSON, 422, "object"),
    ("a string, not an object", "POST", "/v1/suggest", "the cat", JSON, 422, "object"),
    ("not JSON at all", "POST", "/v1/suggest", b"text=the", {"content-type": "application/x-www-form-urlencoded"},
     415, "JSON"),
    ("missing text", "POST", "/v1/suggest", {"k": 3}, JSON, 422, "text"),
    ("text is a number", "POST", "/v1/suggest", {"text": 5}, JSON, 422, "text"),
    ("text is null", "POST", "/v1/suggest", {"text": None}, JSON, 422, "text"),
    ("k is a string", "POST", "/v1/suggest", {"text": "the", "k": "3"}, JSON, 422, "k"),
    ("k is a float", "POST", "/v1/suggest", {"text": "the", "k": 2.5}, JSON, 422, "k"),
    ("k is a boolean", "POST", "/v1/suggest", {"text": "the", "k": True}, JSON, 422, "k"),
    ("k is 0", "POST", "/v1/suggest", {"text": "the", "k": 0}, JSON, 422, "k"),
    ("k is negative", "POST", "/v1/complete", {"text": "the", "k": -1}, JSON, 422, "k"),
    ("k above the cap", "POST", "/v1/suggest", {"text": "the", "k": LIMITS.max_k + 1}, JSON, 422, "k"),
    ("an unknown field", "POST", "/v1/suggest", {"text": "the", "topk": 3}, JSON, 422, "topk"),
    ("include_unknown is a string", "POST", "/v1/suggest", {"text": "a", "include_unknown": "yes"}, JSON, 422,
     "include_unknown"),
    ("text over the cap", "POST", "/v1/suggest", {"text": "a " * LIMITS.text_chars}, JSON, 422, "text"),
    ("complete without text", "POST", "/v1/complete", {}, JSON, 422, "text"),
    ("NaN temperature", "POST", "/v1/generate", b'{"text": "the", "temperature": NaN}', JSON, 422, "temperature"),
    ("infinite temperature", "POST", "/v1/generate", b'{"text": "the", "temperature": Infinity}', JSON, 422,
     "temperature"),
    ("negative temperature", "POST", "/v1/generate", {"text": "the", "temperature": -1}, JSON, 422, "temperature"),
    ("words is 0", "POST", "/v1/generate", {"text": "the", "words": 0}, JSON, 422, "words"),
    ("words above the cap", "POST", "/v1/generate", {"text": "the", "words": LIMITS.max_words + 1}, JSON, 422,
     "words"),
    ("top_p is 0", "POST", "/v1/generate", {"text": "the", "top_p": 0}, JSON, 422, "top_p"),
    ("top_p above 1", "POST", "/v1/generate", {"text": "the", "top_p": 1.5}, JSON, 422, "top_p"),
    ("negative top_k", "POST", "/v1/generate", {"text": "the", "top_k": -2}, JSON, 422, "top_k"),
    ("negative seed", "POST", "/v1/generate", {"text": "the", "seed": -1}, JSON, 422, "seed"),
    ("score an empty text", "POST", "/v1/score", {"text": ""}, JSON, 422, "text"),
    ("score a text too short to score", "POST", "/v1/score", {"text": "a"}, JSON, 422, "short"),
    ("score text over the cap", "POST", "/v1/score", {"text": "a" * (LIMITS.score_chars + 1)}, JSON, 422, "text"),
    ("a body over the cap", "POST", "/v1/score", b'{"text": "' + b"a" * LIMITS.body_bytes + b'"}', JSON, 413,
     "larger"),
    ("an unknown route", "GET", "/v2/suggest", None, {}, 404, "route"),
    ("an unknown file", "GET", "/static/nothing.js", None, {}, 404, "no such"),
    ("GET on a POST route", "GET", "/v1/suggest", None, {}, 405, "GET"),
    ("POST on a GET route", "POST", "/v1/health", {}, JSON, 405, "POST"),
]


def send(client, method: str, path: str, body, headers: dict):
    content = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    return client.request(method, path, content=content, headers=headers)


@pytest.mark.parametrize("level", ["word", "char", "exported"])
@pytest.mark.parametrize(("name", "method", "path", "body", "headers", "status", "word"), CASES,
                         ids=[case[0] for case in CASES])  # fmt: skip
def test_bad_input_gets_its_status_and_one_line_of_json(request, level, name, method, path, body, headers, status, word):
    client = request.getfixturevalue(f"{level}_client")
    response = send(client, method, path, body, headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "\n" not in response.text and "Traceback" not in response.text
    message = response.json()["error"]
    assert isinstance(message, str) and word.lower() in message.lower()
    assert client.post("/v1/suggest", json={"text": "the cat"}).status_code == 200  # and it goes on serving


def test_the_table_has_at_least_25_cases():
    assert len(CASES) >= 25 and len({case[0] for case in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def short_limits_url(word_engine):
    """A real server whose bodies must arrive within half a second, and whose generations may run long
    (10,000 tokens, a minute): long enough that one left running would hold up the next for seconds."""
    with live_server(make_app(word_engine, Limits(body_seconds=0.5, max_words=10_000, generate_seconds=60))) as url:
        yield url


def test_a_client_that_sends_its_body_too_slowly_gets_408(short_limits_url):
    host, port = short_limits_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"POST /v1/suggest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           b"Content-Length: 40\r\n\r\n{\"text\"")  # fmt: skip
        answer = b""  # the rest of the body never comes; the server answers and closes
        while chunk := connection.recv(4096):
            answer += chunk
        answer = answer.decode()
    assert answer.startswith("HTTP/1.1 408") and '"error"' in answer
    assert httpx2.get(f"{short_limits_url}/v1/health").status_code == 200


def test_a_client_that_leaves_mid_stream_stops_its_generation(short_limits_url):
    with httpx2.Client(timeout=10) as client:
        with client.stream("POST", f"{short_limits_url}/v1/generate", json={"text": "the", "words": 10_000}) as stream:
            first = next(stream.iter_lines())
        assert "token" in json.loads(first)  # then the connection closes, 9,999 tokens unread
        # The generation thread notices at its next token and is free again: a new stream ends promptly.
        started = time.monotonic()
        response = client.post(f"{short_limits_url}/v1/generate", json={"text": "the", "words": 3, "seed": 0})
        assert response.status_code == 200 and json.loads(response.text.splitlines()[-1])["done"]
        assert time.monotonic() - started < 3
        assert client.post(f"{short_limits_url}/v1/suggest", json={"text": "the"}).status_code == 200


class Broken:
    """The tiny run's predictor, whose suggest_many breaks once the server is warm (a bug)."""

    def __init__(self, predictor):
        self.predictor, self.warm = predictor, False

    def __getattr__(self, name):
        return getattr(self.predictor, name)

    def suggest_many(self, *args, **kwargs):
        if self.warm:
            raise RuntimeError("a bug in the model")
        return self.predictor.suggest_many(*args, **kwargs)


def test_a_bug_is_a_500_with_one_line_and_the_server_goes_on(word_engine):
    from tests.server.live import client_of
    from word_predictor.server.engine import Engine

    broken = Broken(word_engine.predictor)
    with client_of(Engine(broken, "run", word_engine.source)) as client:
        broken.warm = True
        response = client.post("/v1/suggest", json={"text": "the cat"})
        assert response.status_code == 500 and response.json() == {
            "error": "internal error (RuntimeError); the server goes on serving"}
        assert client.post("/v1/complete", json={"text": "the ca"}).status_code == 200
        assert client.get("/v1/health").json()["status"] == "ok"

