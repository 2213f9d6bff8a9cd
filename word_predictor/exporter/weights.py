"""A run's inference view -> its weights as plain NumPy arrays, by the layer names
model.build_model gives them, so every format rebuilds its graph from the same dict:

    "embedding"       [matrix (vocabulary, embedding_dim)] (+ output bias when tied); absent one-hot
    "{cell}_{n}"      [kernel, recurrent kernel, bias]; bidirectional: [forward's, backward's]
    "next_word"       [kernel (units, vocabulary), bias]; absent when tied
    "tied_projection" [kernel (units, embedding_dim)]: tied, when the two sizes differ
"""

from __future__ import annotations

import numpy as np

from word_predictor.config import Config
from word_predictor.model import OUTPUT_LAYER
from word_predictor.model.factory import TIED_PROJECTION


def read_weights(model, config: Config) -> dict:
    weights = {}
    layers = {layer.name: layer for layer in model.layers}
    if not config.one_hot:
        weights["embedding"] = _arrays(layers["embedding"].get_weights())
    for number in range(1, config.layers + 1):
        name = f"{config.cell}_{number}"
        if config.bidirectional:
            wrapper = layers[f"bidirectional_{number}"]
            weights[name] = [
                _arrays(wrapper.forward_layer.get_weights()),
                _arrays(wrapper.backward_layer.get_weights()),
            ]
        else:
            weights[name] = _arrays(layers[name].get_weights())
    if not config.tie_weights:
        weights[OUTPUT_LAYER] = _arrays(layers[OUTPUT_LAYER].get_weights())
    elif TIED_PROJECTION in layers:
        weights[TIED_PROJECTION] = _arrays(layers[TIED_PROJECTION].get_weights())
    return weights


def _arrays(values) -> list[np.ndarray]:
    return [np.asarray(value, np.float32) for value in values]
