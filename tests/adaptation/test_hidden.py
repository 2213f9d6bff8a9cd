"""The hidden view: the run's own logits, with the last layer's output beside them, for
every kind of model (tied, one-hot, bidirectional, stacked, both contexts)."""

from __future__ import annotations

import numpy as np
import pytest

from word_predictor.adaptation.hidden import hidden_view, split
from word_predictor.batches import context_for
from word_predictor.config import Config, CorpusFacts
from word_predictor.model.factory import build_model

pytestmark = pytest.mark.backend

KINDS = {
    "tied window": (dict(tie_weights=True, embedding_dim=6), 6),
    "stacked full gru": (dict(cell="gru", context="full", layers=2), 6),
    "bidirectional one-hot": (dict(cell="simple_rnn", bidirectional=True, one_hot=True), 12),
    "last-target window": (dict(targets="last", layers=2), 6),
}


@pytest.mark.parametrize("settings, units", KINDS.values(), ids=KINDS.keys())
def test_the_hidden_view_gives_the_models_own_logits_and_its_hidden_state(settings, units):
    config = Config(**(dict(units=6, embedding_dim=3, window_size=4) | settings))
    model = build_model(config, CorpusFacts(vocabulary_size=15))
    contexts = [np.array([1, 2, 3, 4, 5, 6], np.int32), np.array([7, 8, 9, 10, 11, 12], np.int32)]
    joined, _ = context_for(config).reader(hidden_view(model)).start(contexts)
    expected, _ = context_for(config).reader(model).start(contexts)
    logits, hidden = split(joined, 15)
    np.testing.assert_allclose(logits, expected, atol=1e-5)
    assert hidden.shape == (2, units) and np.abs(hidden).sum() > 0
