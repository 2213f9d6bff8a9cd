"""The server on an exported ONNX folder (ONNX Runtime, no Keras in the engine) answers as it
does on the run it came from."""

from __future__ import annotations

import json
import socket

import pytest

pytestmark = pytest.mark.slow  # the tiny run is trained, then exported


def test_the_engine_is_the_runtime(exported_client, exported_engine):
    answer = exported_client.get("/v1/model").json()
    assert answer["engine"] == "runtime" and answer["source"] == str(exported_engine.source)
    assert type(exported_engine.predictor.reader.model).__module__.startswith("word_predictor.runtime")


@pytest.mark.parametrize(("route", "body"), [
    ("/v1/suggest", {"text": "the cat sat on", "k": 5}),
    ("/v1/suggest", {"text": "", "k": 3}),
    ("/v1/complete", {"text": "the cat sat on the m", "k": 3}),
])  # fmt: skip
def test_suggest_and_complete_answer_as_the_run_does(exported_client, word_client, route, body):
    exported, run = exported_client.post(route, json=body).json(), word_client.post(route, json=body).json()
    key = "predictions" if route.endswith("suggest") else "completions"
    assert [p["word"] for p in exported[key]] == [p["word"] for p in run[key]]
    for ours, theirs in zip(exported[key], run[key]):
        assert ours["probability"] == pytest.approx(theirs["probability"], abs=1e-4)


def test_generate_with_a_seed_writes_what_the_run_writes(exported_client, word_client):
    body = {"text": "the cat", "words": 8, "temperature": 0.8, "seed": 5}
    lines = [[json.loads(line) for line in client.post("/v1/generate", json=body).text.splitlines()]
             for client in (exported_client, word_client)]  # fmt: skip
    assert lines[0] == lines[1] and lines[0][-1]["tokens"] == 8


def test_score_is_the_run_s(exported_client, word_client):
    text = "the cat sat on the mat and the dog sat on the rug . some of them look like a cat ."
    exported, run = (client.post("/v1/score", json={"text": text}).json() for client in (exported_client, word_client))
    assert exported["tokens"] == run["tokens"] and exported["perplexity"] == pytest.approx(run["perplexity"], rel=1e-4)


def test_the_command_loads_an_exported_folder_and_says_when_its_port_is_taken(exported_run, capsys):
    from word_predictor import serve as serve

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert serve.main(["--model", str(exported_run), "--port", str(port)]) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == (f"word_predictor.serve: error: could not listen on 127.0.0.1:{port}: "
                     "Address already in use (try --port 0, a free one)")
