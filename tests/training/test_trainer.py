"""The trainer: the corpus read as the config says, a tiny train_new that leaves a complete
run folder, every file in it, written by the callbacks fit() was given, and what a resume refuses."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers import TINY_TEXT, one_line
from word_predictor import rundir, train
from word_predictor.config import Config, SettingError, facts_from, load_config
from word_predictor.text.tokenizer import UNICODE_WORDS
from word_predictor.text.vocabulary import UNKNOWN_ID, Vocabulary, sha256_of
from word_predictor.training import run_corpus, trainer
from word_predictor.training.checkpoint import read_state

HELD_OUT = {"validation": "the cat sat on the dog . a zebra", "test": "the bird sang . the cat looked at the mat"}


def tiny_settings(corpus, **changes) -> Config:
    settings = dict(corpus=[str(corpus)], units=4, embedding_dim=3, window_size=3, epochs=2, batch_size=16,
                    unknown_threshold=1, dropout=0.0, log_every=5)  # fmt: skip
    return Config(**(settings | changes))


@pytest.fixture
def texts(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text(TINY_TEXT * 10, encoding="utf-8")
    for split, text in HELD_OUT.items():
        (tmp_path / f"{split}.txt").write_text(text, encoding="utf-8")
    return tmp_path


def test_held_out_texts_are_those_splits_in_the_corpus_vocabulary(texts):
    config = tiny_settings(texts / "corpus", validation_fraction=0.0, test_fraction=0.0,
                           validation_text=[str(texts / "validation.txt")], test_text=[str(texts / "test.txt")])  # fmt: skip
    corpus = run_corpus.corpus_for(config)
    # Counted on the training text alone: the corpus' own words, none of the held-out texts'.
    expected = Vocabulary.from_counts(_counts(UNICODE_WORDS.tokens(TINY_TEXT * 10)), unknown_threshold=1,
                                      max_size=config.max_vocabulary)
    assert corpus.vocabulary == expected
    assert corpus.splits["train"].ids.tolist() == expected.encode(UNICODE_WORDS.tokens(TINY_TEXT * 10)).tolist()
    for split, text in HELD_OUT.items():
        ids = np.asarray(corpus.splits[split].ids).tolist()
        assert ids == expected.encode(UNICODE_WORDS.tokens(text)).tolist()
        assert corpus.splits[split].segment_lengths.tolist() == [len(ids)]  # one segment per file
    assert np.asarray(corpus.splits["validation"].ids)[-1] == UNKNOWN_ID  # "zebra": not in the training text


def test_a_held_out_text_inside_the_corpus_is_refused_before_reading(texts):
    config = tiny_settings(texts / "corpus", test_text=[str(texts / "corpus" / "a.txt")], test_fraction=0.0)
    with pytest.raises(SettingError, match="a.txt is in the corpus too"):
        run_corpus.corpus_for(config)


def _counts(tokens: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for token in tokens:
        counts[token] = counts.get(token, 0) + 1
    return counts


@pytest.mark.slow
def test_train_new_leaves_a_complete_run_folder_with_every_file(texts):
    config = tiny_settings(texts / "corpus")
    run = trainer.train_new(config, texts / "logs", "tiny", command_line="test", use_cache=False)
    assert run == texts / "logs" / "tiny"
    files = {rundir.CONFIG_FILE, rundir.VOCABULARY_FILE, rundir.MODEL_FILE, rundir.METRICS_FILE,
             rundir.TEST_SPLIT_FILE, rundir.STATUS_FILE, rundir.LOCK_FILE}  # fmt: skip
    assert files <= {path.name for path in run.iterdir() if path.is_file()}
    checkpoint = run / rundir.CHECKPOINT_DIR
    assert {path.name for path in checkpoint.iterdir()} == {rundir.CHECKPOINT_MODEL, rundir.CHECKPOINT_STATE}
    for folder in ("train", "validation", "test", "samples", "projector"):  # the monitoring callbacks' output
        assert list((run / folder).glob("events.out.tfevents.*")), folder
    assert not list(run.rglob(".*.partial*"))

    status = rundir.read_status(run)
    assert status["complete"] is True and status["model_sha256"] == sha256_of(run / rundir.MODEL_FILE)
    saved, provenance = load_config(run / rundir.CONFIG_FILE)
    assert saved == config and provenance["command_line"] == "test"
    assert provenance["vocabulary_sha256"] == sha256_of(run / rundir.VOCABULARY_FILE)
    facts = facts_from(provenance)
    assert facts.vocabulary_size == len(Vocabulary.load(run / rundir.VOCABULARY_FILE)) > 10
    assert facts.train_tokens + facts.validation_tokens + facts.test_tokens == facts.corpus_tokens > 0
    state = read_state(run)
    assert state["epochs_completed"] == 2 == rundir.read_status(run)["epochs_completed"]
    # The schedule and early stopping ran in fit() and the checkpoint kept their counters.
    assert set(state["callbacks"]) == {"EarlyStopping", "ReduceLROnPlateau"}
    metrics = json.loads((run / rundir.METRICS_FILE).read_text())
    assert metrics["epochs_completed"] == 2 and metrics["best_epoch"] == state["best_epoch"] + 1
    assert 1 < metrics["test"]["perplexity"] < len(Vocabulary.load(run / rundir.VOCABULARY_FILE))
    assert rundir.load_run(run).config == config


# ---------------------------------------------------------------- what a resume refuses


def test_resume_takes_no_other_settings(tmp_path, capsys):
    assert train.main(["--resume", str(tmp_path), "--units", "9", "--cell", "gru"]) == 2
    line = one_line(capsys.readouterr().err, "train")
    assert "--resume takes every setting from the run; drop --cell --units" in line


@pytest.mark.slow
def test_a_complete_run_is_not_resumed(trained_run, capsys):
    assert train.main(["--resume", str(trained_run)]) == 1
    assert "is already complete" in one_line(capsys.readouterr().err, "train")

