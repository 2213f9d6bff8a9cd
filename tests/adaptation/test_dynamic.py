"""Dynamic evaluation and evaluate --adapt: each segment scored before it is learned from,
the run's files never touched, the figures beside the unadapted ones."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from tests.helpers import TINY_TEXT
from word_predictor import evaluate
from word_predictor.adaptation.dynamic import DynamicEvaluation
from word_predictor.adaptation.scoring import Adaptation, score_adapted
from word_predictor.adaptation.settings import CacheSettings, DynamicSettings
from word_predictor.predictor import Predictor
from word_predictor.rundir import load_run, read_test_split

pytestmark = pytest.mark.backend


def folder_hash(folder) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.mark.slow
def test_dynamic_evaluation_learns_in_memory_and_leaves_the_run_untouched(either_run):
    before = folder_hash(either_run)
    run = load_run(either_run)
    trained = [w.copy() for w in run.model.get_weights()]
    split = read_test_split(either_run)
    adaptation = Adaptation(dynamic=DynamicSettings(rate=1.0, segment=8))
    plain, adapted = score_adapted(Predictor.from_run(run), split, adaptation)
    assert plain["tokens"] == adapted["tokens"]
    assert adapted["perplexity"] != pytest.approx(plain["perplexity"], rel=1e-6)  # it did learn
    for now, then in zip(run.model.get_weights(), trained):  # and gave its steps back at the end
        np.testing.assert_array_equal(now, then)
    assert folder_hash(either_run) == before


@pytest.mark.slow
def test_a_step_moves_the_weights_and_decay_pulls_them_back(trained_run):
    run = load_run(trained_run)
    ids = np.array([[1, 2, 3, 4, 5, 6, 7, 8]], np.int32)[:, : run.config.window_size]
    learner = DynamicEvaluation(run.model, DynamicSettings(rate=1.0, decay=1.0))
    trained = [w.copy() for w in run.model.get_weights()]
    learner.learn(ids, np.array([2]))  # decay 1: all the way back after the step
    for now, then in zip(run.model.get_weights(), trained):
        np.testing.assert_allclose(now, then, atol=1e-6)
    stepping = DynamicEvaluation(run.model, DynamicSettings(rate=1.0, decay=0.0))
    stepping.learn(ids, np.array([2]))
    assert any(not np.allclose(now, then) for now, then in zip(run.model.get_weights(), trained))
    stepping.restore()


@pytest.mark.slow
def test_evaluate_adapt_prints_both_figures_with_the_same_keys(either_run, capsys):
    assert evaluate.main(["--run", str(either_run), "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert evaluate.main(["--run", str(either_run), "--json", "--adapt", "cache,dynamic"]) == 0
    both = json.loads(capsys.readouterr().out)
    adapted = both.pop("adapted")
    assert set(adapted) == set(plain) - {"run"}
    assert both["tokens"] == plain["tokens"]
    assert both["perplexity"] == pytest.approx(plain["perplexity"], rel=1e-4)  # read in order, the same figure
    assert set(both["adaptation"]) == {"cache", "dynamic"}


@pytest.mark.slow
def test_evaluate_adapt_saves_keystrokes_on_a_recurring_new_word(trained_run, tmp_path, capsys):
    story = tmp_path / "story.txt"
    story.write_text(TINY_TEXT.replace("dog", "zorblax") * 6, encoding="utf-8")  # a name the run never saw, 12 times
    argv = ["--run", str(trained_run), "--text", str(story), "--json", "--adapt", "--cache-lambda", "0.5"]
    assert evaluate.main(argv) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["new_words_counted"] is True
    assert scores["adapted"]["keystroke_savings"] > scores["keystroke_savings"] + 0.03
    # the text as plain evaluate reads it: the same tokens, unknown words as the unknown symbol
    assert evaluate.main(["--run", str(trained_run), "--text", str(story), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] == scores["tokens"]


def test_score_adapted_with_a_cache_keeps_the_model_and_reads_once(trained_run):
    run = load_run(trained_run)
    split = read_test_split(trained_run)
    plain, adapted = score_adapted(Predictor.from_run(run), split, Adaptation(cache=CacheSettings(mix=0.0)))
    assert adapted["perplexity"] == pytest.approx(plain["perplexity"])  # a share of 0 changes nothing
