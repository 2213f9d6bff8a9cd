"""A run that learns as its user types: a made-up name typed twice is offered after its
first letters, in the library and through predict --input --adapt and --interactive."""

from __future__ import annotations

import io
import json

import pytest

from word_predictor import predict
from word_predictor.predictor.adaptive import AdaptivePredictor
from word_predictor.rundir import load_run

pytestmark = pytest.mark.backend

NAME = "zorblax"  # no run's vocabulary holds it
TYPED = ["the cat and zorblax sat on the mat ", "the dog and zorblax sat on the rug "]


@pytest.mark.slow
def test_a_made_up_name_typed_twice_is_completed_the_third_time(either_run):
    run = load_run(either_run)
    predictor = AdaptivePredictor.from_run(run)
    assert NAME not in run.vocabulary
    assert predictor.complete("the bird sang and zor").completions == []  # not yet typed
    picked = [predictor.learn(line) for line in TYPED]
    assert picked == [[NAME], []]
    assert predictor.learned() == {NAME: 2}
    completions = dict(predictor.complete("the bird sang and zor").completions)
    assert NAME in completions
    suggested = dict(predictor.suggest("the bird sang and", top_k=len(run.vocabulary)).predictions)
    assert NAME in suggested and "<unk>" not in suggested  # the unknown symbol itself is never shown
    predictor.forget()
    assert predictor.complete("the bird sang and zor").completions == []


@pytest.mark.slow
def test_a_word_still_being_typed_is_not_learned(trained_run):
    predictor = AdaptivePredictor.from_run(load_run(trained_run))
    assert predictor.learn("the cat sat and zorbl", last_word_finished=False) == []
    assert "zorbl" not in predictor.learned()


@pytest.mark.slow
def test_predict_input_adapt_reads_the_lines_as_one_text(trained_run, tmp_path, capsys):
    lines = tmp_path / "lines.txt"
    lines.write_text("".join(line.strip() + "\n" for line in TYPED) + "the bird sang and zor\n", encoding="utf-8")
    argv = ["--run", str(trained_run), "--input", str(lines), "--complete", "--json"]
    assert predict.main([*argv, "--adapt"]) == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [a["learned"] for a in answers] == [[NAME], [], []]
    assert NAME in [c["word"] for c in answers[2]["completions"]]
    assert predict.main(argv) == 0  # without --adapt nothing is learned
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert "learned" not in answers[2] and NAME not in [c["word"] for c in answers[2]["completions"]]


@pytest.mark.slow
def test_interactive_learns_and_says_what(trained_run, monkeypatch, capsys):
    typed = "".join(TYPED[0] + "\n" + TYPED[1] + "\n") + "the bird sang and zor\n:learned\n:forget\n:learned\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(typed))
    assert predict.main(["--run", str(trained_run), "--interactive"]) == 0
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert captured.err.count(f"learned a new word: {NAME}") == 1
    assert f"complete 'zor': {NAME}" in out[2]
    assert f"new words: {NAME} (2)" in out[3]
    assert out[4].startswith("forgotten") and "new words: none yet" in out[5]


@pytest.mark.slow
def test_learners_over_one_model_keep_their_own_words_and_an_engine_without_hidden_state_is_refused(trained_run):
    from word_predictor.errors import AdaptationUnavailable
    from word_predictor.predictor import Predictor

    shared = Predictor.from_run(load_run(trained_run))
    first, second = AdaptivePredictor.over(shared), AdaptivePredictor.over(shared)
    first.learn(TYPED[0])
    assert first.learned() == {NAME: 1} and second.learned() == {}
    assert first.reader is second.reader is shared.hidden_reader()  # one hidden view of the model, made once
    blind = Predictor(shared.reader, shared.config, shared.vocabulary)  # an engine that gives no hidden state
    with pytest.raises(AdaptationUnavailable, match="no hidden state"):
        AdaptivePredictor.over(blind)
