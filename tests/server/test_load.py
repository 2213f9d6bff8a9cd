"""A bounded load on a real loopback server: a fixed number of concurrent requests, each answered
with its own text's suggestions, none lost, fewer model calls than requests. (Memory over
20,000 requests is measured by benchmarks/serve.py, too long for a test on two cores.)"""

from __future__ import annotations

import asyncio

import httpx2
import pytest

from word_predictor.server.app import make_app
from tests.server.live import live_server

REQUESTS = 600
CONCURRENCY = 32
WORDS = "the cat sat on the mat and the dog sat on the rug . some of them look like a cat".split()


def texts(count: int) -> list[str]:
    """Different texts (each a different cut of WORDS), so a mixed-up answer shows."""
    return [" ".join(WORDS[i % 7 : i % 7 + 1 + i % 11]) for i in range(count)]


async def hammer(url: str, bodies: list[dict]) -> list:
    limits = httpx2.Limits(max_connections=CONCURRENCY)
    async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(body):
            async with gate:
                response = await client.post("/v1/suggest", json=body)
                return response.status_code, response.json()

        return await asyncio.gather(*(one(body) for body in bodies))


@pytest.mark.slow
def test_every_request_of_a_bounded_load_gets_its_own_answer(word_engine):
    sent = texts(REQUESTS)
    expected = {text: [w for w, _ in s.predictions] for text, s in zip(sent, word_engine.predictor.suggest_many(sent, 3))}
    app = make_app(word_engine)
    with live_server(app) as url:
        answers = asyncio.run(hammer(url, [{"text": text, "k": 3} for text in sent]))
        health = httpx2.get(f"{url}/v1/health").json()
    assert len(answers) == REQUESTS and all(status == 200 for status, _ in answers)
    assert [[p["word"] for p in answer["predictions"]] for _, answer in answers] == [expected[t] for t in sent]
    assert health["requests"] == REQUESTS
    # Answered together: without micro-batching there is one call per request. How many share a
    # call depends on how fast the client sends them; with CI's other test pass on the cores the
    # client was starved to 3.9 a call (155 calls), alone it reaches more than 4.
    assert health["model_calls"] < REQUESTS / 2, health


@pytest.mark.slow
def test_sessions_learning_under_load_leave_every_answer_its_own(word_engine):
    """Half the requests name one of 8 sessions, each typing its text word by word, while the
    learning thread learns from them: every request answered, each plain one as the model
    alone answers it, each session's with its own text's context."""
    sent = texts(REQUESTS)
    expected = {text: [w for w, _ in s.predictions] for text, s in zip(sent, word_engine.predictor.suggest_many(sent, 3))}
    typed = [" ".join(WORDS[: 1 + i // 16 % len(WORDS)]) + " zorblax " * (i % 3) for i in range(REQUESTS)]
    bodies = [{"text": text, "k": 3} if i % 2 else {"text": typed[i], "k": 3, "session": f"user-{i // 2 % 8}"}
              for i, text in enumerate(sent)]  # fmt: skip
    with live_server(make_app(word_engine)) as url:
        answers = asyncio.run(hammer(url, bodies))
        kept = [httpx2.get(f"{url}/v1/sessions/user-{n}").json() for n in range(8)]
    assert all(status == 200 for status, _ in answers)
    for body, (_, answer) in zip(bodies, answers):
        if "session" in body:
            assert answer["context"] == word_engine.predictor.context_tokens(word_engine.predictor.tokenize(body["text"]))
        else:
            assert [p["word"] for p in answer["predictions"]] == expected[body["text"]]
    assert all(session.get("positions", 0) > 0 for session in kept), kept
