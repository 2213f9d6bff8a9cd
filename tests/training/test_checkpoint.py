"""The callbacks that keep a run's work: a non-finite loss stops training with the last good
model kept, the time limit, and the checkpoint state that a resume reads back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import TINY_TEXT, one_line, train_flags, write_corpus
from word_predictor import predict, rundir, train
from word_predictor.text.vocabulary import sha256_of
from word_predictor.training import trainer
from word_predictor.training.checkpoint import StopOnNonFiniteLoss, read_state


# ---------------------------------------------------------------- non-finite loss


def poisoned_at(epoch_to_poison: int, seen: dict):
    """A StopOnNonFiniteLoss that first sets every weight to NaN at the start of one epoch."""

    class Poisoned(StopOnNonFiniteLoss):
        def on_epoch_begin(self, epoch, logs=None):
            super().on_epoch_begin(epoch, logs)
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
    monkeypatch.setattr(trainer, "StopOnNonFiniteLoss", poisoned_at(1, seen))
    assert train.main(train_flags(folder, tmp_path / "logs", "--run-name", "nan", "--epochs", "3")) == 1
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
    monkeypatch.setattr(trainer, "StopOnNonFiniteLoss", poisoned_at(0, {"run": run}))
    assert train.main(train_flags(folder, tmp_path / "logs", "--run-name", "nan")) == 1
    line = one_line(capsys.readouterr().err, "train")
    assert "before the first epoch ended, so there is no model to keep; lower --learning-rate" in line
    assert not (run / "model.keras").exists()
    assert predict.main(["--run", str(run), "the cat"]) == 1
    line = one_line(capsys.readouterr().err, "predict")
    assert "stopped (non-finite loss) before its first epoch ended and holds no model" in line

