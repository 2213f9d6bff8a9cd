"""Every route through the HTTP test client, on a word run and a character run: the answers
are the predictor's own."""

from __future__ import annotations

import json

import pytest

from word_predictor.server.engine import score_text
from word_predictor.server.limits import Limits
from tests.server.live import client_of

pytestmark = pytest.mark.slow  # each test answers from a trained tiny run


def lines_of(response) -> list[dict]:
    return [json.loads(line) for line in response.text.splitlines() if line]


@pytest.fixture(params=["word", "char"])
def served(request):
    """(client, predictor) for the word run, then the character run."""
    client = request.getfixturevalue(f"{request.param}_client")
    return client, request.getfixturevalue(f"{request.param}_engine").predictor


def test_suggest_answers_what_the_predictor_suggests(served):
    client, predictor = served
    for text in ["the cat sat on", "some of them", ""]:
        answer = client.post("/v1/suggest", json={"text": text, "k": 4}).json()
        [expected] = predictor.suggest_many([text], 4)
        assert answer["context"] == expected.context
        assert [(p["word"], pytest.approx(p["probability"])) for p in answer["predictions"]] == expected.predictions


def test_a_smaller_k_is_the_start_of_the_larger_ranking(word_client):
    three = word_client.post("/v1/suggest", json={"text": "the cat", "k": 3}).json()["predictions"]
    six = word_client.post("/v1/suggest", json={"text": "the cat", "k": 6}).json()["predictions"]
    assert len(three) == 3 and three == six[:3]


def test_include_unknown_may_offer_the_unknown_symbol(word_client, word_engine):
    vocabulary = word_engine.predictor.vocabulary
    every = word_client.post("/v1/suggest", json={"text": "the", "k": 50, "include_unknown": True}).json()
    known = word_client.post("/v1/suggest", json={"text": "the", "k": 50}).json()
    assert vocabulary.tokens[0] in [p["word"] for p in every["predictions"]]
    assert vocabulary.tokens[0] not in [p["word"] for p in known["predictions"]]


def test_complete_ranks_the_known_words_with_the_typed_prefix(word_client, word_engine):
    answer = word_client.post("/v1/complete", json={"text": "the cat sat on the m", "k": 3}).json()
    [expected] = word_engine.predictor.complete_many(["the cat sat on the m"], 3)
    assert answer["prefix"] == "m" and [c["word"] for c in answer["completions"]] == [w for w, _ in expected.completions]
    assert all(c["word"].startswith("m") for c in answer["completions"])


def test_complete_on_a_character_run_finishes_the_word_being_typed(char_client, char_engine):
    answer = char_client.post("/v1/complete", json={"text": "the ca", "k": 3}).json()
    [expected] = char_engine.predictor.complete_many(["the ca"], 3)
    assert answer["prefix"] == "ca" and expected.prefix == "ca"
    assert [(c["word"], c["probability"]) for c in answer["completions"]] == [
        (word, pytest.approx(p)) for word, p in expected.completions
    ]
    assert answer["completions"] and all(c["word"].startswith("ca") for c in answer["completions"])


def test_generate_streams_the_tokens_the_predictor_draws_with_that_seed(served):
    client, predictor = served
    settings = {"text": "the cat", "words": 6, "temperature": 0.7, "top_k": 5, "seed": 3}
    response = client.post("/v1/generate", json=settings)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/x-ndjson")
    *tokens, last = lines_of(response)
    expected = predictor.generate("the cat", 6, temperature=0.7, top_k=5, seed=3).samples[0].tokens
    assert [line["token"] for line in tokens] == expected
    assert "".join(line["text"] for line in tokens) == predictor.join(["", *expected])
    assert last == {"done": True, "stopped": "length", "tokens": 6, "seed": 3}


def test_generate_from_nothing_starts_a_text(word_client):
    *tokens, last = lines_of(word_client.post("/v1/generate", json={"words": 3, "seed": 1}))
    assert len(tokens) == 3 and not tokens[0]["text"].startswith(" ") and last["done"]


def test_generation_is_cut_at_its_wall_time(word_engine):
    with client_of(word_engine, limits=Limits(generate_seconds=0)) as client:
        *tokens, last = lines_of(client.post("/v1/generate", json={"text": "the", "words": 50}))
    assert len(tokens) == 1 and last["stopped"] == "time"


def test_score_is_evaluate_s_figures_for_the_text(served):
    client, predictor = served
    text = "the cat sat on the mat and the dog sat on the rug . some of them look like a cat ."
    answer = client.post("/v1/score", json={"text": text}).json()
    expected = score_text(predictor, text)
    assert answer["perplexity"] == pytest.approx(expected["perplexity"]) and answer["tokens"] == expected["tokens"]
    unit = predictor.vocabulary.tokenizer.unit
    assert answer[f"bits_per_{unit}"] == pytest.approx(expected["bits_per_token"])


def test_model_tells_the_level_context_and_vocabulary(served):
    client, predictor = served
    answer = client.get("/v1/model").json()
    assert answer["level"] == predictor.config.level and answer["vocabulary_size"] == len(predictor.vocabulary)
    assert answer["engine"] == "keras" and answer["batching"] is True
    assert answer["limits"]["max_k"] == Limits().max_k


def test_health_counts_requests_and_model_calls(word_engine):
    with client_of(word_engine) as client:
        for text in ["a", "b", "c"]:
            client.post("/v1/suggest", json={"text": text})
        assert client.get("/v1/health").json() == {"status": "ok", "requests": 3, "model_calls": 3}


def test_the_page_and_its_files_are_served_and_load_nothing_from_the_network(word_client):
    page = word_client.get("/")
    assert page.status_code == 200 and 'id="suggestions"' in page.text
    for name, kind in [("app.js", "javascript"), ("style.css", "css")]:
        response = word_client.get(f"/static/{name}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
        assert "http://" not in response.text and "https://" not in response.text
    assert "http" not in page.text.replace('http-equiv', '')


def test_the_schema_documents_every_route(word_client):
    schema = word_client.get("/openapi.json").json()
    assert {"/v1/suggest", "/v1/complete", "/v1/generate", "/v1/score", "/v1/health", "/v1/model"} <= set(schema["paths"])
    suggest = schema["components"]["schemas"]["SuggestRequest"]["properties"]
    assert suggest["k"]["maximum"] == Limits().max_k
    assert word_client.get("/docs").status_code == 200


def test_docs_loads_every_file_from_this_server(word_client):
    """/docs works offline: Swagger UI's script, style and icon come from here, not a CDN
    (the page test opens it in a browser with the network cut off)."""
    import re

    docs = word_client.get("/docs").text
    linked = re.findall(r'(?:src|href)="([^"]+)"', docs)
    assert len(linked) == 3 and all(link.startswith("/docs/assets/") for link in linked), linked
    assert "https://" not in docs and "http://" not in docs
    for link in linked:
        assert word_client.get(link).status_code == 200
    assert word_client.get("/redoc").status_code == 404  # ReDoc would load its script from a CDN: not served


def test_what_is_loaded_at_start_is_frozen_out_of_the_collectors_walk():
    """A full collection must not walk the model and its framework (a long pause for every
    waiting request): the server freezes what is alive once it has started."""
    import gc

    from word_predictor.server.app import freeze_what_is_loaded

    loaded = [[index] for index in range(10_000)]  # tracked objects, as a loaded model's are
    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        freeze_what_is_loaded()
        assert gc.get_freeze_count() >= len(loaded)
        assert all(not any(item is row for row in gc.get_objects(generation=2)) for item in loaded[:3])
    finally:
        gc.unfreeze()
