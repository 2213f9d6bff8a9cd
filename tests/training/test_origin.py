"""train --from RUN: a new run that begins from a trained run's kept weights, keeps its
vocabulary and model settings, reads new text, and is a complete run folder of its own;
what it refuses, before anything is written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers import copy_run, one_line, set_status, write
from word_predictor import engines, evaluate, folder_files, predict, rundir, runs, train
from word_predictor.backend import keras
from word_predictor.config import Config, SettingError, load_config
from word_predictor.text.vocabulary import Vocabulary, sha256_of
from word_predictor.training.origin import continued_settings, recorded_origin

pytestmark = [pytest.mark.slow, pytest.mark.backend]

# The user's own text: words the trained run knows, and a made-up name it has never seen,
# which its vocabulary (kept) reads as the unknown symbol.
NEW_TEXT = "the zorblax sat on the mat and the zorblax looked at the cat . " * 30


class FirstWeights(keras.callbacks.Callback):
    """The training model's weights by layer name, before its first step (a full-context
    training view's CarriedRNN: its inner layer's, without the carried state)."""

    def __init__(self):
        super().__init__()
        self.weights = {}

    def on_train_begin(self, logs=None):
        self.weights = {layer.name: getattr(layer, "rnn", layer).get_weights() for layer in self.model.layers
                        if layer.weights}  # fmt: skip


def train_from(run, corpus, logdir, *extra, name="mine", callbacks=()) -> int:
    return train.main(["--from", str(run), "--corpus", str(corpus), "--logdir", str(logdir), "--run-name", name,
                       *extra], callbacks=callbacks)  # fmt: skip


@pytest.fixture(scope="module")
def continued(tmp_path_factory, trained_run):
    """(the trained run, the run continued from it on NEW_TEXT, its first weights, the text's file)."""
    folder = tmp_path_factory.mktemp("continued")
    text = write(folder / "mine" / "notes.txt", NEW_TEXT)
    first = FirstWeights()
    assert train_from(trained_run, text.parent, folder / "logs", "--epochs", "4", "--learning-rate", "0.02",
                      callbacks=[first]) == 0  # fmt: skip
    return trained_run, folder / "logs" / "mine", first.weights, text


def assert_begun_from(first: dict, trained) -> None:
    source = rundir.load_model(trained / rundir.MODEL_FILE)
    compared = [layer.name for layer in source.layers if layer.weights]
    assert compared and set(compared) <= set(first)
    for name in compared:
        for began, kept in zip(first[name], source.get_layer(name).get_weights(), strict=True):
            np.testing.assert_array_equal(began, kept)


def test_the_new_run_begins_from_the_trained_runs_weights(continued):
    trained, _, first, _ = continued
    assert_begun_from(first, trained)


def test_a_full_context_run_begins_from_its_weights_too(tmp_path, trained_full_run):
    """Its training view carries the state between chunks (CarriedRNN), its kept model does not."""
    first = FirstWeights()
    text = write(tmp_path / "mine" / "notes.txt", NEW_TEXT)
    assert train_from(trained_full_run, text.parent, tmp_path / "logs", "--epochs", "1", callbacks=[first]) == 0
    assert_begun_from(first.weights, trained_full_run)
    assert load_config(tmp_path / "logs" / "mine" / rundir.CONFIG_FILE)[0].context == "full"


def test_the_vocabulary_is_the_trained_runs_and_the_text_is_read_in_it(continued):
    trained, mine, _, _ = continued
    assert sha256_of(mine / rundir.VOCABULARY_FILE) == sha256_of(trained / rundir.VOCABULARY_FILE)
    vocabulary = Vocabulary.load(mine / rundir.VOCABULARY_FILE)
    assert "zorblax" not in vocabulary
    model = rundir.load_model(mine / rundir.MODEL_FILE)
    assert model.outputs[0].shape[-1] == len(vocabulary)


def test_config_records_the_origin_and_keeps_the_model_settings(continued):
    trained, mine, _, text = continued
    config, data = load_config(mine / rundir.CONFIG_FILE)
    source, source_data = load_config(trained / rundir.CONFIG_FILE)
    assert data["from_run"] == {
        "path": str(trained.absolute()),
        "settings_sha256": source_data["settings_sha256"],
        "model_sha256": rundir.read_status(trained)["model_sha256"],
        "vocabulary_sha256": source_data["vocabulary_sha256"],
    }
    for name in ("cell", "units", "layers", "embedding_dim", "window_size", "unknown_threshold", "batch_size"):
        assert getattr(config, name) == getattr(source, name), name
    assert config.corpus == [str(text.parent.absolute())] and config.epochs == 4 and config.learning_rate == 0.02
    assert "--from" in data["command_line"]


def test_the_new_run_is_complete_and_answers_on_either_engine(continued, capsys):
    _, mine, _, _ = continued
    assert rundir.is_complete(mine) and engines.engine_for(mine) == "runtime"
    answers = []
    for engine in ("runtime", "keras"):
        capsys.readouterr()
        assert predict.main(["--run", str(mine), "--engine", engine, "the cat sat on"]) == 0
        answers.append(capsys.readouterr().out)
    assert answers[0] == answers[1] and "Prediction:" in answers[0]


def test_training_on_the_new_text_lowers_its_perplexity(continued, capsys):
    trained, mine, _, text = continued
    perplexities = []
    for run in (trained, mine):
        capsys.readouterr()
        assert evaluate.main(["--run", str(run), "--text", str(text), "--json"]) == 0
        perplexities.append(json.loads(capsys.readouterr().out)["perplexity"])
    assert perplexities[1] < 0.5 * perplexities[0], perplexities


def test_runs_shows_where_a_run_came_from(continued, capsys):
    trained, mine, _, _ = continued
    assert runs.main(["--logdir", str(mine.parent), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["from_run"] == str(trained.absolute())
    assert runs.main(["--logdir", str(mine.parent)]) == 0
    header, line = capsys.readouterr().out.splitlines()
    assert header.split()[-1] == "from" and line.split()[-1] == trained.name


def test_an_interrupted_run_resumes_on_its_text_from_the_trained_weights(tmp_path, trained_run, capsys):
    """Stopped before its first epoch ended, a continued run resumes from the trained run's weights again."""

    class StopAtSecondBatch(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 1:
                raise KeyboardInterrupt

    text = write(tmp_path / "mine" / "notes.txt", NEW_TEXT)
    assert train_from(trained_run, text.parent, tmp_path / "logs", callbacks=[StopAtSecondBatch()]) != 0
    first = FirstWeights()
    assert train.main(["--resume", str(tmp_path / "logs" / "mine")], callbacks=[first]) == 0
    source = rundir.load_model(trained_run / rundir.MODEL_FILE)
    np.testing.assert_array_equal(first.weights["embedding"][0], source.get_layer("embedding").get_weights()[0])
    assert sha256_of(tmp_path / "logs" / "mine" / rundir.VOCABULARY_FILE) == sha256_of(
        trained_run / rundir.VOCABULARY_FILE)  # fmt: skip


# ---------------------------------------------------------------- the settings, without training


def test_settings_left_out_are_the_trained_runs_and_the_text_is_the_new_one():
    trained = Config(units=8, learning_rate=0.01, epochs=9, dropout=0.3, corpus=["/old"], validation_text=["/v"])
    chosen = Config(corpus=["/new"], epochs=2)
    continued = continued_settings(trained, chosen, {"corpus", "epochs"})
    assert (continued.units, continued.learning_rate, continued.dropout) == (8, 0.01, 0.3)
    assert continued.epochs == 2 and continued.corpus == ["/new"]
    assert continued.validation_text == [] and continued.validation_fraction == 0.1  # the new text's own share


def test_a_model_setting_given_as_the_trained_runs_is_taken():
    trained = Config(units=8)
    assert continued_settings(trained, Config(units=8), {"units"}).units == 8


@pytest.mark.parametrize(("given", "named"), [({"units": 16}, "units"), ({"unknown_threshold": 5}, "unknown_threshold"),
                                             ({"context": "full"}, "context")])  # fmt: skip
def test_a_setting_that_would_change_the_vocabulary_or_the_model_is_refused(given, named):
    with pytest.raises(SettingError, match=named):
        continued_settings(Config(units=8), Config(**given), set(given))


# ---------------------------------------------------------------- refused, nothing written


def _not_a_run(tmp_path, trained_run):
    (tmp_path / "folder").mkdir()
    return tmp_path / "folder"


def _incomplete(tmp_path, trained_run):
    (tmp_path / "copies").mkdir()
    run = copy_run(trained_run, tmp_path / "copies")
    set_status(run, complete=False)
    return run


@pytest.mark.parametrize(("make_run", "texts", "extra", "said"), [
    (lambda tmp_path, run: tmp_path / "nowhere", {"a.txt": NEW_TEXT}, [], "--from"),
    (_not_a_run, {"a.txt": NEW_TEXT}, [], "not a word_predictor run folder"),
    (_incomplete, {"a.txt": NEW_TEXT}, [], "incomplete"),
    (lambda tmp_path, run: run, {"a.txt": NEW_TEXT}, ["--resume", "RUN"], "--resume"),
    (lambda tmp_path, run: run, {"a.txt": ""}, [], "--corpus has 0 word"),
    (lambda tmp_path, run: run, {"a.md": NEW_TEXT}, [], "no .txt files"),
    (lambda tmp_path, run: run, {"a.txt": NEW_TEXT}, ["--unknown-threshold", "3"],
     "--unknown-threshold would change the vocabulary"),
    (lambda tmp_path, run: run, {"a.txt": NEW_TEXT}, ["--max-vocabulary", "10"], "--max-vocabulary would change"),
    (lambda tmp_path, run: run, {"a.txt": NEW_TEXT}, ["--level", "char"], "--level would change the vocabulary"),
    (lambda tmp_path, run: run, {"a.txt": NEW_TEXT}, ["--units", "16", "--cell", "gru"],
     "--cell, --units would change the model"),
], ids=["missing", "not-a-run", "incomplete", "with-resume", "no-text", "no-txt-file", "min-count", "max-vocabulary",
        "level", "model-shape"])  # fmt: skip
def test_refused_in_one_line_with_nothing_written(tmp_path, trained_run, capsys, make_run, texts, extra, said):
    run = make_run(tmp_path, trained_run)
    for name, content in texts.items():
        write(tmp_path / "text" / name, content)
    logdir = tmp_path / "logs"
    extra = [str(run) if word == "RUN" else word for word in extra]
    assert train_from(run, tmp_path / "text", logdir, *extra) != 0
    errors = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("warning: ")]
    assert said in one_line("\n".join(errors), "train")
    assert not (logdir / "mine").exists() and not list(logdir.glob("*/" + rundir.STATUS_FILE))


def test_without_a_corpus_it_is_refused(tmp_path, trained_run, capsys):
    assert train.main(["--from", str(trained_run), "--logdir", str(tmp_path / "logs")]) == 2
    assert "--corpus" in one_line(capsys.readouterr().err, "train")
    assert not (tmp_path / "logs").exists()


def test_the_origin_record_is_checked_where_it_is_read(continued):
    _, mine, _, _ = continued
    data = folder_files.read_json(mine / rundir.CONFIG_FILE)
    assert recorded_origin(data) == data["from_run"] and recorded_origin({}) is None
    data["from_run"]["model_sha256"] = "not a hash"
    with pytest.raises(ValueError, match="model_sha256"):
        recorded_origin(data)
