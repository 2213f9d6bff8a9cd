"""training/epoch_end.py: the trainer's own callbacks together. The learning rate halves as
lr_patience says, and a run its time limit stops after a worse epoch ends with its best model."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import tiny_model
from word_predictor import rundir
from word_predictor.config import Config, CorpusFacts
from word_predictor.model.factory import build_model
from word_predictor.training import checkpoint
from word_predictor.training.epoch_end import TrainingCallbacks
from word_predictor.training.distribute import SINGLE
from word_predictor.training.regularisation import AveragedWeights


def own_callbacks(tmp_path, **settings):
    config = Config(units=6, embedding_dim=3, window_size=4, dropout=0.0, learning_rate=0.01,
                    **settings)  # fmt: skip
    model = tiny_model(**settings)
    own = TrainingCallbacks(tmp_path, config, {}, build_model(config, CorpusFacts(vocabulary_size=15)), watched="val_loss", parallel=SINGLE)
    ordered = own.ordered([], [])
    for callback in ordered:
        callback.set_model(model)
        callback.set_params({"epochs": 4, "steps": 1, "verbose": 0})  # as fit() gives them
        callback.on_train_begin()
    return own, ordered, model


def epoch(ordered, number: int, val_loss: float) -> None:
    logs = {"loss": val_loss, "val_loss": val_loss}
    for callback in ordered:
        callback.on_epoch_begin(number)
    for callback in ordered:
        callback.on_epoch_end(number, logs)


@pytest.mark.parametrize("lr_patience, halved_at", [(0, [1, 2, 3]), (2, [3])])
def test_the_learning_rate_halves_after_lr_patience_epochs_without_a_better_validation_loss(
    tmp_path, lr_patience, halved_at
):
    own, ordered, model = own_callbacks(tmp_path, lr_patience=lr_patience, patience=10)
    rates = []
    for number, val_loss in enumerate([1.0, 1.1, 1.2, 1.3]):  # better once, then worse three times
        epoch(ordered, number, val_loss)
        rates.append(float(np.asarray(model.optimizer.learning_rate)))
    halved = [n for n in range(1, 4) if rates[n] == pytest.approx(rates[n - 1] / 2)]
    assert halved == halved_at


def test_a_run_its_time_limit_stops_after_a_worse_epoch_ends_with_its_best_model(tmp_path, monkeypatch):
    clock = iter([0.0, 30.0, 70.0])  # fit begins, end of epoch 1, end of epoch 2 (past the minute)
    monkeypatch.setattr(checkpoint.time, "perf_counter", lambda: next(clock))
    own, ordered, model = own_callbacks(tmp_path, time_limit=1.0, weight_averaging=True)
    model.train_on_batch(np.ones((2, 4), "int32"), np.ones((2, 4), "int32"))  # averages apart from the weights
    epoch(ordered, 0, 1.0)
    best = [np.array(w) for w in model.trainable_weights]  # the averages, in place at the epoch's end
    model.trainable_weights[0].assign(model.trainable_weights[0] + 1.0)  # the next epoch makes it worse
    epoch(ordered, 1, 1.5)
    assert model.stop_training  # the time limit
    kept = rundir.load_model(tmp_path / rundir.MODEL_FILE)
    assert all(np.allclose(a, np.array(b)) for a, b in zip(best, kept.trainable_weights))
    state = checkpoint.read_state(tmp_path)
    assert (state["best_epoch"], state["epochs_completed"], state["stopped_early"]) == (0, 2, True)
    assert any(isinstance(callback, AveragedWeights) for callback in ordered)
