"""training.validation: an epoch's end scores the validation split through the run's
reader, with the trained weights copied into it first, and a window run's figures are
those Keras' evaluation of the training view gave."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.helpers import FACTS, VOCABULARY, tiny_batches, tiny_config
from word_predictor.batches import context_for
from word_predictor.batches.windows import WindowBatches
from word_predictor.corpus.splits import Split
from word_predictor.model.factory import build_model
from word_predictor.model.compile import compile_model
from word_predictor.scoring.evaluate import score
from word_predictor.training.validation import ScoredValidation, validation_for

SPLIT = Split.from_lengths((np.arange(60) % 9 + 1).astype(np.int32), [35, 25])


class Asked:
    """A context that answers the one question validation_for asks, as it is told."""

    def __init__(self, has_targets: bool = True):
        self.has_targets = has_targets

    def has_validation_targets(self, split):
        return self.has_targets


def test_validation_scores_in_a_callback_through_the_runs_reader():
    callbacks = validation_for(Asked(), SPLIT, reader="the reader")
    assert len(callbacks) == 1 and isinstance(callbacks[0], ScoredValidation)
    assert callbacks[0].reader == "the reader" and callbacks[0].split is SPLIT


def test_a_split_without_a_target_is_not_validated():
    assert validation_for(Asked(has_targets=False), SPLIT, reader=None) == []


@pytest.mark.backend
@pytest.mark.parametrize("targets", ["all", "last"])
def test_a_window_runs_validation_gives_the_figures_of_keras_evaluation(targets):
    # A window run was validated by Keras' evaluation of the training view on every full
    # window, scored at its last position; the reader must give the same figures.
    config = dataclasses.replace(tiny_config(), targets=targets, batch_size=8)
    context = context_for(config)
    trained = context.training_model(FACTS, on_gpu=False)
    compile_model(trained, config)
    trained.fit(tiny_batches(config), epochs=2, verbose=0)  # weights that predict something
    ids = np.random.default_rng(1).integers(1, VOCABULARY, 300).astype(np.int32)
    split = Split.from_lengths(ids, [140, 3, 157])  # a segment too short for a window
    keras_figures = trained.evaluate(
        WindowBatches(split, window_size=config.window_size, batch_size=config.batch_size, targets=targets,
                      shuffle=False, last_only=True), verbose=0, return_dict=True)  # fmt: skip
    callback = validation_for(context, split, context.reader(build_model(config, FACTS)))[0]
    callback.set_model(trained)
    logs = {}
    callback.on_epoch_end(0, logs)
    assert logs["val_loss"] == pytest.approx(keras_figures["loss"], rel=1e-5)
    assert logs["val_accuracy"] == pytest.approx(keras_figures["accuracy"], abs=1e-6)
    assert logs["val_top5_accuracy"] == pytest.approx(keras_figures["top5_accuracy"], abs=1e-6)


@pytest.mark.backend
def test_scored_validation_scores_the_trained_weights_not_the_readers_own():
    config = dataclasses.replace(tiny_config(), context="full", bptt=4, batch_size=2)
    context = context_for(config)
    trained = build_model(config, FACTS, "training")
    reader = context.reader(build_model(config, FACTS))
    before = score(reader, SPLIT)
    callback = ScoredValidation(reader, SPLIT)
    callback.set_model(trained)
    logs = {"loss": 1.0}
    callback.on_epoch_end(0, logs)
    after = score(reader, SPLIT)
    assert logs["val_loss"] == pytest.approx(after["loss"]) and logs["val_loss"] != pytest.approx(before["loss"])
    assert logs["val_accuracy"] == after["top1"] and logs["val_top5_accuracy"] == after["top5"]
    assert logs["validation_seconds"] > 0 and logs["loss"] == 1.0
