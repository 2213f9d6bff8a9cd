"""exporter.weights: a model's weights as plain arrays, named as every export format reads them."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import FACTS, VOCABULARY, tiny_config
from word_predictor.exporter.weights import read_weights
from word_predictor.model.factory import build_model


def test_a_plain_run_gives_the_embedding_each_layer_and_the_output():
    config = tiny_config(layers=2, cell="gru", dropout=0.0)
    model = build_model(config, FACTS)
    weights = read_weights(model, config)
    assert set(weights) == {"embedding", "gru_1", "gru_2", "next_word"}
    assert weights["embedding"][0].shape == (VOCABULARY, 3)
    assert [w.shape[0] for w in weights["gru_1"][:2]] == [3, 2]  # kernel from the embedding, recurrent kernel
    assert weights["next_word"][0].shape == (2, VOCABULARY)
    assert all(array.dtype == np.float32 for arrays in weights.values() for array in arrays)
    np.testing.assert_array_equal(weights["next_word"][0], model.get_layer("next_word").get_weights()[0])


@pytest.mark.parametrize("cell", ["lstm", "simple_rnn"])
def test_a_bidirectional_layer_gives_its_forward_and_backward_weights(cell):
    config = tiny_config(cell=cell, bidirectional=True, targets="last")
    weights = read_weights(build_model(config, FACTS), config)
    forward, backward = weights[f"{cell}_1"]
    assert [w.shape for w in forward] == [w.shape for w in backward]
    assert not np.array_equal(forward[0], backward[0])  # two layers, not one read twice


def test_one_hot_has_no_embedding_and_tied_weights_no_output_layer():
    one_hot = tiny_config(one_hot=True)
    assert "embedding" not in read_weights(build_model(one_hot, FACTS), one_hot)
    tied = tiny_config(tie_weights=True, units=3)
    weights = read_weights(build_model(tied, FACTS), tied)
    assert "next_word" not in weights
    assert [w.shape for w in weights["embedding"]] == [(VOCABULARY, 3), (VOCABULARY,)]  # the matrix, and the output bias
