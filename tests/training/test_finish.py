"""The end of a run scores the kept (best) model on the test split, whatever the last epoch
left in the views the run trained and validated with."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import TINY_TEXT, train_flags, write_corpus
from word_predictor import folder_files, rundir, train
from word_predictor.backend import keras
from word_predictor.predictor.predictor import Predictor
from word_predictor.scoring.evaluate import score_run


class WorseLastEpoch(keras.callbacks.Callback):
    """Noise on every weight as the last epoch begins, so an earlier epoch is the kept one."""

    def __init__(self, last: int):
        super().__init__()
        self.last = last

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.last:
            noise = np.random.default_rng(0)
            self.model.set_weights([w + noise.normal(0, 3, w.shape).astype(w.dtype) for w in self.model.get_weights()])


@pytest.mark.parametrize("context", [["--context", "window"], ["--context", "full", "--batch-size", "2"]])
def test_the_test_figures_are_the_kept_models_after_a_worse_last_epoch(tmp_path, context):
    corpus = write_corpus(tmp_path, {"a.txt": TINY_TEXT * 20})
    flags = train_flags(corpus, tmp_path / "logs", "--epochs", "3", "--patience", "3", "--run-name", "run", *context)
    assert train.main(flags, callbacks=[WorseLastEpoch(last=2)]) == 0
    run_dir = tmp_path / "logs" / "run"
    metrics = folder_files.read_json(run_dir / rundir.METRICS_FILE)
    assert metrics["best_epoch"] < metrics["epochs_completed"] == 3  # the views hold the worse weights
    expected = score_run(Predictor.from_run(rundir.load_run(run_dir)), rundir.read_test_split(run_dir))
    assert metrics["test"]["perplexity"] == pytest.approx(expected["perplexity"], rel=1e-6)
    assert metrics["test"]["top1"] == expected["top1"]
