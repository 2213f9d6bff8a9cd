"""Sessions through the server: a made-up name typed twice is offered in its own session only,
learned once however many keystrokes send it, forgotten at once, bounded, and nothing is
learned from a refused request. The run is read by Keras (its hidden state is what a
session's cache keeps)."""

from __future__ import annotations

import time

import pytest

from word_predictor.predictor import Predictor
from word_predictor.server.engine import Engine
from word_predictor.server.limits import Limits
from word_predictor.server.sessions import SessionRefused, Sessions, new_tokens
from tests.server.live import client_of

pytestmark = pytest.mark.slow  # each test answers from a trained tiny run

NAME = "zorblax"  # no run's vocabulary holds it
TYPED = "the cat and zorblax sat on the mat . the dog and zorblax sat on the rug . "
ASKED = TYPED + "the bird sang and zor"


def type_into(client, session: str | None, text: str, route: str = "complete") -> None:
    """Send the whole text at every keystroke, as the page does."""
    for end in range(1, len(text) + 1):
        body = {"text": text[:end], "k": 3} | ({"session": session} if session else {})
        assert client.post(f"/v1/{route}", json=body).status_code == 200


def completions(client, text: str, session: str | None = None, k: int = 10) -> list[str]:
    body = {"text": text, "k": k} | ({"session": session} if session else {})
    answer = client.post("/v1/complete", json=body)
    assert answer.status_code == 200, answer.text
    return [entry["word"] for entry in answer.json()["completions"]]


def learned(client, session: str) -> dict[str, int] | None:
    """The session's learned words (read after the learning queued before), None if none is kept."""
    answer = client.get(f"/v1/sessions/{session}")
    if answer.status_code == 404:
        return None
    assert answer.status_code == 200, answer.text
    return {entry["word"]: entry["count"] for entry in answer.json()["words"]}


@pytest.fixture
def client(word_engine):
    with client_of(word_engine) as client:
        yield client


def test_a_name_typed_twice_is_offered_in_its_session_and_nowhere_else(client, word_engine):
    assert NAME not in word_engine.predictor.vocabulary
    plain_before = client.post("/v1/suggest", json={"text": ASKED, "k": 5}).json()
    type_into(client, "alice", TYPED)
    assert learned(client, "alice") == {NAME: 2}  # learned once per time typed, not once per keystroke
    assert NAME in completions(client, ASKED, "alice")
    assert NAME not in completions(client, ASKED)  # without a session
    assert NAME not in completions(client, ASKED, "bob")  # another session
    # without a session, the answers are the model's own, as before any session learned
    assert client.post("/v1/suggest", json={"text": ASKED, "k": 5}).json() == plain_before
    [expected] = word_engine.predictor.suggest_many([ASKED], 5)
    assert [(p["word"], pytest.approx(p["probability"])) for p in plain_before["predictions"]] == expected.predictions


def test_suggest_learns_too_and_offers_the_name_where_the_context_predicts_it(client, word_engine):
    type_into(client, "carol", TYPED, route="suggest")
    assert learned(client, "carol") == {NAME: 2}
    every = len(word_engine.predictor.vocabulary)
    answer = client.post("/v1/suggest", json={"text": TYPED + "the bird sang and", "k": every, "session": "carol"})
    words = [entry["word"] for entry in answer.json()["predictions"]]
    assert NAME in words and "<unk>" not in words


def test_forget_drops_a_session_at_once(client):
    type_into(client, "dave", TYPED)
    assert NAME in completions(client, ASKED, "dave")
    assert client.delete("/v1/sessions/dave").status_code == 204
    assert learned(client, "dave") is None
    answer = client.delete("/v1/sessions/dave")
    assert answer.status_code == 404 and "no session 'dave'" in answer.json()["error"]
    assert NAME not in completions(client, ASKED, "dave")  # a fresh session under the same id


def test_a_session_starts_from_its_first_text_and_learns_what_is_typed_after_it(client):
    """The first text was there before the session (a reload, or what stayed in the box after
    forget): it is the context of what follows, not something typed to learn."""
    client.post("/v1/complete", json={"text": TYPED, "session": "ivan"})
    assert learned(client, "ivan") == {}
    client.post("/v1/complete", json={"text": TYPED + "and quuxo sat ", "session": "ivan"})
    assert learned(client, "ivan") == {"quuxo": 1}


def test_backspace_and_edits_learn_each_word_once(client):
    for text in ["", "the cat and zorblax ", "the cat and zorbl", "the cat and ", "", "the cat and zorblax sat "]:
        client.post("/v1/complete", json={"text": text, "session": "erin"})
    assert learned(client, "erin") == {NAME: 1}  # deleted and typed again: still once
    client.post("/v1/complete", json={"text": "the cat and quuxo sat ", "session": "erin"})  # an edit
    assert learned(client, "erin") == {NAME: 1, "quuxo": 1}


def test_a_text_teaches_no_more_words_than_the_cache_keeps(word_engine):
    """The learning thread's work per text is bounded by the cache: a long text pasted at once
    (or scored) teaches its last words only, those the cache would keep anyway."""
    with client_of(word_engine, limits=Limits(session_positions=5)) as client:
        client.post("/v1/complete", json={"text": "", "session": "hank"})  # the session starts on an empty box
        client.post("/v1/complete", json={"text": "quuxo sat on the mat and the cat sat on the rug and zorblax ",
                                          "session": "hank"})  # fmt: skip
        kept = client.get("/v1/sessions/hank").json()
        assert kept["positions"] == 5 and kept["words"] == [{"word": NAME, "count": 1}]
        client.post("/v1/score", json={"text": "quuxo and the cat sat on the mat . the cat", "session": "hank"})
        assert learned(client, "hank") == {}  # quuxo was too far back to be kept; zorblax pushed out


def test_new_tokens_follow_the_longest_text_and_its_edits():
    assert new_tokens(["a", "b"], ["a", "b", "c"]) == (2, ["c"])
    assert new_tokens(["a", "b", "c"], ["a", "b"]) == (2, [])
    assert new_tokens(["a", "b", "c"], []) == (0, [])
    assert new_tokens(["a", "b", "c"], ["a", "x", "c", "d"]) == (1, ["x", "c", "d"])


def test_score_with_a_session_teaches_it_the_text_and_answers_the_same_figures(client):
    plain = client.post("/v1/score", json={"text": TYPED}).json()
    assert client.post("/v1/score", json={"text": TYPED, "session": "frank"}).json() == plain
    assert learned(client, "frank") == {NAME: 2}
    assert NAME in completions(client, ASKED, "frank")


def test_nothing_is_learned_from_a_refused_request(client):
    for body in [{"text": TYPED, "k": 999, "session": "gina"}, {"text": TYPED, "k": "3", "session": "gina"},
                 {"text": TYPED * 200, "session": "gina"}]:  # fmt: skip
        assert client.post("/v1/complete", json=body).status_code == 422
    assert learned(client, "gina") is None  # not even made
    answer = client.post("/v1/score", json={"text": "the", "session": "gina"})  # too short to score
    assert answer.status_code == 422
    kept = client.get("/v1/sessions/gina").json()
    assert kept["words"] == [] and kept["positions"] == 0


@pytest.mark.parametrize("session, problem", [("x" * 65, "at most 64 characters"), (42, "valid string"),
                                              ("", "at least 1 character"), ("a b/c", "pattern")])  # fmt: skip
def test_a_bad_session_id_is_one_line_422(client, session, problem):
    for route in ("suggest", "complete", "score"):
        answer = client.post(f"/v1/{route}", json={"text": TYPED, "session": session})
        assert answer.status_code == 422 and problem in answer.json()["error"], answer.text
        assert answer.json()["error"].startswith("session: ")
    assert client.get(f"/v1/sessions/{'x' * 65}").status_code == 422


def test_the_least_recently_used_session_is_dropped_and_a_flood_of_new_ones_refused(word_engine):
    clock = [0.0]
    sessions = Sessions(word_engine.predictor, Limits(sessions=2, session_idle_seconds=100), busy_seconds=1,
                        clock=lambda: clock[0])  # fmt: skip
    first = sessions.open("a")
    sessions.open("b")
    with pytest.raises(SessionRefused) as refused:  # both used this very second
        sessions.open("c")
    assert refused.value.status == 429 and "too many sessions at once" in str(refused.value)
    clock[0] = 5.0
    assert sessions.open("a") is first  # used again: now b is the least recent
    clock[0] = 10.0
    sessions.open("c")
    assert sessions.find("b") is None and sessions.find("a") is first and len(sessions) == 2
    clock[0] = 109.0  # a idle 104 s, c 99 s
    assert sessions.find("a") is None and sessions.find("c") is not None
    sessions.close()


def test_through_the_server_too_many_sessions_is_429_and_an_idle_one_expires(word_engine):
    with client_of(word_engine, limits=Limits(sessions=1, session_idle_seconds=0.5)) as client:
        client.post("/v1/complete", json={"text": "the cat ", "session": "one"})
        answer = client.post("/v1/complete", json={"text": "the cat ", "session": "two"})
        assert answer.status_code == 429 and "too many sessions" in answer.json()["error"]
        assert client.get("/v1/sessions/one").status_code == 200
        time.sleep(0.6)
        assert client.get("/v1/sessions/one").status_code == 404  # idle too long: forgotten
        assert client.post("/v1/complete", json={"text": "the cat ", "session": "two"}).status_code == 200


def test_a_session_on_an_engine_without_hidden_state_is_a_400_naming_why(word_engine):
    predictor = word_engine.predictor
    blind = Predictor(predictor.reader, predictor.config, predictor.vocabulary)  # gives no hidden state
    with client_of(Engine(blind, "runtime", word_engine.source)) as client:
        answer = client.post("/v1/complete", json={"text": "the ca", "session": "alice"})
        assert answer.status_code == 400 and "no hidden state" in answer.json()["error"]
        assert client.post("/v1/complete", json={"text": "the ca"}).status_code == 200  # without: as ever
        info = client.get("/v1/model").json()["sessions"]
        assert info["available"] is False and "no hidden state" in info["reason"]
    with client_of(word_engine, limits=Limits(sessions=0)) as client:
        answer = client.post("/v1/suggest", json={"text": "the", "session": "alice"})
        assert answer.status_code == 400 and "--max-sessions 0" in answer.json()["error"]


def test_model_says_which_engine_answers_and_that_sessions_are_kept(client):
    answer = client.get("/v1/model").json()
    assert answer["engine"] == "keras" and answer["sessions"] == {"available": True, "reason": None}
    assert answer["limits"]["sessions"] == Limits().sessions


def test_a_run_answered_by_the_runtime_keeps_sessions_as_keras_does(trained_run, word_engine):
    from word_predictor import engines

    answering, predictor = engines.load_named(trained_run, "runtime", adapts=True)
    assert answering == "runtime"
    with client_of(Engine(predictor, answering, trained_run)) as client:
        assert client.get("/v1/model").json()["engine"] == "runtime"
        type_into(client, "erin", TYPED)
        assert learned(client, "erin") == {NAME: 2}
        assert NAME in completions(client, ASKED, "erin")
        assert NAME not in completions(client, ASKED)
        runtime_answer = client.post("/v1/complete", json={"text": ASKED, "k": 5, "session": "erin"}).json()
    with client_of(word_engine) as client:  # Keras, taught the same text, gives the same answer
        type_into(client, "erin", TYPED)
        keras_answer = client.post("/v1/complete", json={"text": ASKED, "k": 5, "session": "erin"}).json()
    assert [c["word"] for c in runtime_answer["completions"]] == [c["word"] for c in keras_answer["completions"]]
    for ours, theirs in zip(runtime_answer["completions"], keras_answer["completions"]):
        assert ours["probability"] == pytest.approx(theirs["probability"], rel=1e-3, abs=1e-5)
