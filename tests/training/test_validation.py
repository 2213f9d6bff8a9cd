"""training.validation: which way an epoch's end scores the validation split, and the
scored validation that copies the trained weights into the reader before scoring."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.helpers import FACTS, tiny_config
from word_predictor.batches import context_for
from word_predictor.corpus.splits import Split
from word_predictor.model.build import build_model
from word_predictor.scoring.evaluate import score
from word_predictor.training.validation import ScoredValidation, validation_for

SPLIT = Split.from_lengths((np.arange(60) % 9 + 1).astype(np.int32), [35, 25])


class Asked:
    """A context that answers the two questions validation_for asks, as it is told."""

    def __init__(self, validated_by: str, has_targets: bool = True):
        self.validated_by, self.has_targets = validated_by, has_targets

    def has_validation_targets(self, split):
        return self.has_targets

    def validation_batches(self, split):
        return ("batches of", split)


def test_fit_validation_hands_fit_the_contexts_batches_and_adds_no_callback():
    assert validation_for(Asked("fit"), SPLIT, reader=None) == (("batches of", SPLIT), [])


def test_reader_validation_scores_in_a_callback_and_hands_fit_nothing():
    batches, callbacks = validation_for(Asked("reader"), SPLIT, reader="the reader")
    assert batches is None and len(callbacks) == 1 and isinstance(callbacks[0], ScoredValidation)
    assert callbacks[0].reader == "the reader" and callbacks[0].split is SPLIT


def test_a_split_without_a_target_is_not_validated():
    assert validation_for(Asked("reader", has_targets=False), SPLIT, reader=None) is None


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
