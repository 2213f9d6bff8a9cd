"""The callbacks that keep a run's work: a non-finite loss stops training with the last good
model kept, the time limit, and the checkpoint state that a resume reads back."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import FACTS, TINY_TEXT, one_line, tiny_config, tiny_model, train_flags, write_corpus
from word_predictor import predict, rundir, train
from word_predictor.backend import keras
from word_predictor.model.factory import build_model
from word_predictor.model.compile import compile_model
from word_predictor.text.vocabulary import sha256_of
from word_predictor.training import checkpoint
from word_predictor.training.checkpoint import RunCheckpoint, StopOnNonFiniteLoss, TimeLimit, read_state


# ---------------------------------------------------------------- non-finite loss


def poisoned_at(epoch_to_poison: int, seen: dict):
    """A callback, run before the trainer's own, that sets every weight to NaN at the start of one epoch."""

    class Poisoned(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == epoch_to_poison:
                run = Path(seen["run"])
                if (run / "model.keras").exists():
                    seen["model_sha256"] = sha256_of(run / "model.keras")
                self.model.set_weights([np.full_like(w, np.nan) for w in self.model.get_weights()])

    return Poisoned


@pytest.mark.slow
def test_a_nan_loss_stops_training_and_keeps_the_last_good_model(tmp_path, capsys, monkeypatch):
    folder = write_corpus(tmp_path, {"a.txt": TINY_TEXT * 20})
    run = tmp_path / "logs" / "nan"
    seen = {"run": run}
    poisoned = poisoned_at(1, seen)()
    assert train.main(train_flags(folder, tmp_path / "logs", "--run-name", "nan", "--epochs", "3"), callbacks=[poisoned]) == 1
    line = one_line(capsys.readouterr().err, "train")
    assert "training stopped in epoch 2, batch 1: the loss became NaN or infinite" in line
    assert "The best model so far (epoch 1) is kept" in line
    # The model and checkpoint are epoch 1's, untouched; the run is usable.
    assert sha256_of(run / "model.keras") == seen["model_sha256"]
    assert read_state(run)["epochs_completed"] == 1
    assert all(np.all(np.isfinite(w)) for w in rundir.load_model(run / "model.keras").get_weights())
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["stopped"] == "non-finite loss" and metrics["best_epoch"] == 1
    assert predict.main(["--run", str(run), "the cat"]) == 0


@pytest.mark.slow
def test_a_nan_loss_in_the_first_epoch_leaves_a_run_that_says_so(tmp_path, capsys, monkeypatch):
    folder = write_corpus(tmp_path, {"a.txt": TINY_TEXT * 20})
    run = tmp_path / "logs" / "nan"
    poisoned = poisoned_at(0, {"run": run})()
    assert train.main(train_flags(folder, tmp_path / "logs", "--run-name", "nan"), callbacks=[poisoned]) == 1
    line = one_line(capsys.readouterr().err, "train")
    assert "before the first epoch ended, so there is no model to keep; lower --learning-rate" in line
    assert not (run / "model.keras").exists()
    assert predict.main(["--run", str(run), "the cat"]) == 1
    line = one_line(capsys.readouterr().err, "predict")
    assert "stopped (non-finite loss) before its first epoch ended and holds no model" in line


# ---------------------------------------------------------------- the callbacks on their own


def attached(callback, model=None):
    callback.set_model(model if model is not None else tiny_model())
    return callback


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_stop_on_non_finite_loss_stops_at_the_first_such_batch_and_says_where(bad):
    stop = attached(StopOnNonFiniteLoss())
    stop.on_epoch_begin(2)
    stop.on_train_batch_end(0, {"loss": 3.5})
    stop.on_train_batch_end(1, {})  # a batch without a loss (none logged) is no reason to stop
    assert stop.stopped_at is None and not stop.model.stop_training
    stop.on_train_batch_end(3, {"loss": bad})
    assert stop.stopped_at == (2, 3) and stop.model.stop_training


def test_time_limit_stops_after_the_epoch_in_which_it_ran_out(capsys, monkeypatch):
    clock = iter([100.0, 130.0, 170.0])  # fit begins, end of epoch 1, end of epoch 2
    monkeypatch.setattr(checkpoint.time, "perf_counter", lambda: next(clock))
    limit = attached(TimeLimit(seconds=60))
    limit.on_train_begin()
    limit.on_epoch_end(0)
    assert not limit.model.stop_training
    limit.on_epoch_end(1)
    assert limit.model.stop_training
    assert capsys.readouterr().out == "time limit reached after epoch 2\n"


def test_no_time_limit_never_stops(monkeypatch):
    limit = attached(TimeLimit(seconds=0))
    monkeypatch.setattr(checkpoint.time, "perf_counter", lambda: 1e9)
    limit.on_train_begin()
    limit.on_epoch_end(0)
    assert not limit.model.stop_training


def make_checkpoint(run, state):
    config = tiny_config(dropout=0.0)
    training = build_model(config, FACTS, "training")
    compile_model(training, config)
    carried = [attached(keras.callbacks.EarlyStopping(patience=3), training),
               attached(keras.callbacks.ReduceLROnPlateau(patience=0), training)]  # fmt: skip
    return attached(RunCheckpoint(run, carried, state, inference_view=build_model(config, FACTS)), training), carried


def begin(saving: RunCheckpoint) -> None:
    """As fit() begins: the carried callbacks reset themselves first, then the checkpoint restores them."""
    for callback in saving.carried:
        callback.on_train_begin()
    saving.on_train_begin()


def test_the_checkpoint_state_reads_back_and_restores_the_carried_counters(tmp_path):
    saving, (stopping, schedule) = make_checkpoint(tmp_path, {"global_step": 10})
    begin(saving)
    stopping.wait, stopping.best, stopping.best_epoch = 2, np.float32(1.25), 0
    schedule.wait, schedule.best, schedule.cooldown_counter = 1, 1.5, 0
    for batch in range(3):
        saving.on_train_batch_end(batch)
    saving.on_epoch_end(1, {"loss": 1.4, "val_loss": 1.3})

    state = read_state(tmp_path)
    assert state == {
        "global_step": 13, "best_val_loss": 1.3, "best_epoch": 1, "epochs_completed": 2, "stopped_early": False,
        "callbacks": {"EarlyStopping": {"wait": 2, "best": 1.25, "best_epoch": 0},
                      "ReduceLROnPlateau": {"wait": 1, "best": 1.5, "cooldown_counter": 0}},
    }  # fmt: skip
    assert rundir.read_status(tmp_path)["epochs_completed"] == 2
    assert (tmp_path / rundir.MODEL_FILE).is_file()
    assert (tmp_path / rundir.CHECKPOINT_DIR / rundir.CHECKPOINT_MODEL).is_file()

    (tmp_path / ".model.partial.keras").write_bytes(b"half")  # a trainer killed mid-save left this
    resumed, (stopping, schedule) = make_checkpoint(tmp_path, state)
    begin(resumed)
    assert (stopping.wait, stopping.best, stopping.best_epoch) == (2, 1.25, 0)
    assert (schedule.wait, schedule.best, schedule.cooldown_counter) == (1, 1.5, 0)
    assert not (tmp_path / ".model.partial.keras").exists()


def test_a_non_finite_epoch_leaves_the_last_good_files_as_they_were(tmp_path):
    saving, _ = make_checkpoint(tmp_path, {})
    begin(saving)
    saving.on_epoch_end(0, {"loss": 2.0, "val_loss": 2.0})
    kept = sha256_of(tmp_path / rundir.MODEL_FILE), read_state(tmp_path)
    saving.on_epoch_end(1, {"loss": math.nan, "val_loss": math.nan})
    assert (sha256_of(tmp_path / rundir.MODEL_FILE), read_state(tmp_path)) == kept
    assert kept[1]["epochs_completed"] == 1


def test_a_worse_epoch_keeps_the_best_model_and_moves_the_checkpoint_on(tmp_path):
    saving, _ = make_checkpoint(tmp_path, {})
    begin(saving)
    saving.on_epoch_end(0, {"loss": 2.0, "val_loss": 1.0})
    best = sha256_of(tmp_path / rundir.MODEL_FILE)
    saving.model.set_weights([w + 1 for w in saving.model.get_weights()])
    saving.on_epoch_end(1, {"loss": 1.5, "val_loss": 1.2})
    assert sha256_of(tmp_path / rundir.MODEL_FILE) == best
    state = read_state(tmp_path)
    assert (state["best_epoch"], state["best_val_loss"], state["epochs_completed"]) == (0, 1.0, 2)
