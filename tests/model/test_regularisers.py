"""model/regularisers.py and its hooks: each regulariser acts in a training call only, the
inference view is the plain model, weight drop draws one mask per batch, locked dropout one
per sequence, embedding dropout whole words, and AR/TAR are losses."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.helpers import FACTS, VOCABULARY, tiny_batches, tiny_config
from word_predictor.backend import keras
from word_predictor.config import Config
from word_predictor.model.factory import TIED_PROJECTION, build_model, copy_weights
from word_predictor.model.cells import LSTM, SimpleRNN
from word_predictor.model.compile import compile_model
from word_predictor.model.regularisers import ActivationRegularisation, EmbeddingDropout, LockedDropout

def as_numpy(value, dtype=None) -> np.ndarray:
    """A tensor of any backend (one that needs a gradient too) as a NumPy array."""
    return np.asarray(keras.ops.convert_to_numpy(value), dtype)


# Each regulariser alone (and all together), on a two-layer model with dropout to lock.
REGULARISERS = {
    "locked dropout": dict(locked_dropout=True),
    "weight drop": dict(weight_drop=0.5),
    "embedding dropout": dict(embedding_dropout=0.3),
    "AR": dict(activation_regularisation=2.0),
    "TAR": dict(temporal_activation_regularisation=1.0),
    "all": dict(locked_dropout=True, weight_drop=0.5, embedding_dropout=0.3, activation_regularisation=2.0,
                temporal_activation_regularisation=1.0),
}  # fmt: skip


def regularised(context: str, **settings) -> Config:
    return tiny_config(layers=2, units=4, dropout=0.3, context=context, bptt=4, batch_size=8, **settings)


def training_inputs(config: Config, rng):
    tokens = rng.integers(0, VOCABULARY, (8, 4)).astype("int32")
    return {"tokens": tokens, "reset": np.ones(8, "float32")} if config.context == "full" else tokens


@pytest.mark.parametrize("context", ["window", "full"])
@pytest.mark.parametrize("settings", REGULARISERS.values(), ids=REGULARISERS.keys())
def test_a_regulariser_is_off_outside_training_and_absent_from_the_inference_view(settings, context):
    config = regularised(context, **settings)
    training = build_model(config, FACTS, "training")
    inputs = training_inputs(config, np.random.default_rng(0))
    once, twice = (as_numpy(training(inputs, training=False)) for _ in range(2))
    np.testing.assert_array_equal(once, twice)
    assert not np.allclose(once, as_numpy(training(inputs, training=True)))  # on in training
    # The inference view is the plain model's: the same layers, by name and kind, and the same weights.
    plain = build_model(dataclasses.replace(config, **{k: type(v)() for k, v in settings.items()}), FACTS)
    inference = copy_weights(training, build_model(config, FACTS))
    assert [(layer.name, type(layer)) for layer in inference.layers] == [
        (layer.name, type(layer)) for layer in plain.layers
    ]
    assert all(layer.get_config().get("weight_drop", 0.0) == 0.0 for layer in inference.layers)
    copy_weights(inference, plain)
    tokens = inputs["tokens"] if context == "full" else inputs
    if context == "window":
        np.testing.assert_allclose(as_numpy(inference(tokens)), once[:, -1], rtol=1e-5, atol=1e-6)
    else:  # from a zero state, as the training view's reset lanes start
        states = [np.zeros((8, 4), "float32")] * (len(inference.inputs) - 1)
        np.testing.assert_allclose(as_numpy(inference([tokens, *states])[0]), once, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(as_numpy(plain(tokens if context == "window" else [tokens, *states])[0]),
                                  as_numpy(inference(tokens if context == "window" else [tokens, *states])[0]))


def test_weight_drop_draws_one_mask_of_the_recurrent_kernel_per_batch_not_per_step():
    # A linear SimpleRNN: h_t = x_t W + b + h_{t-1} R', so each step's R' can be solved for.
    units, batch, steps, rate = 3, 16, 6, 0.5
    layer = SimpleRNN(units, activation=None, return_sequences=True, weight_drop=rate)
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(batch, steps, 4)).astype("float32")  # as wide as the state, or wider
    layer.build(inputs.shape)
    kernel, recurrent, bias = (as_numpy(w, np.float64) for w in layer.get_weights())
    masks = []
    for _ in range(2):  # two batches
        outputs = as_numpy(layer(inputs, training=True), np.float64)
        per_step = []
        for t in range(1, steps):
            residual = outputs[:, t] - inputs[:, t] @ kernel - bias
            per_step.append(np.linalg.lstsq(outputs[:, t - 1], residual, rcond=None)[0])
        for solved in per_step[1:]:
            np.testing.assert_allclose(solved, per_step[0], atol=1e-3)  # one mask for every step
        kept = np.isclose(per_step[0], recurrent / (1 - rate), atol=1e-3)
        dropped = np.isclose(per_step[0], 0.0, atol=1e-3)
        assert (kept | dropped).all() and dropped.any() and kept.any()
        masks.append(kept)
    assert (masks[0] != masks[1]).any()  # a new batch, a new mask
    np.testing.assert_array_equal(as_numpy(layer(inputs)), as_numpy(layer(inputs)))  # none outside training


def test_weight_drop_keeps_an_lstm_in_training_only():
    layer = LSTM(4, return_sequences=True, weight_drop=0.5)
    inputs = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    plain = as_numpy(layer(inputs))
    np.testing.assert_array_equal(as_numpy(layer(inputs)), plain)
    assert not np.allclose(as_numpy(layer(inputs, training=True)), plain)


def test_locked_dropout_keeps_one_mask_for_every_step_of_a_sequence():
    layer = LockedDropout(0.5, seed=1)
    ones = np.ones((16, 7, 5), "float32")
    dropped = as_numpy(layer(ones, training=True))
    assert set(np.unique(dropped)) == {0.0, 2.0}  # dropped, or kept and scaled by 1 / (1 - rate)
    np.testing.assert_array_equal(dropped, np.broadcast_to(dropped[:, :1], dropped.shape))  # the same at each step
    assert (dropped[:, 0] != dropped[:1, 0]).any()  # but one per sequence
    rows = as_numpy(layer(np.ones((16, 5), "float32"), training=True))  # (batch, features): a mask per row
    assert set(np.unique(rows)) == {0.0, 2.0}
    np.testing.assert_array_equal(as_numpy(layer(ones)), ones)


def test_embedding_dropout_drops_whole_words_for_the_batch():
    layer = EmbeddingDropout(0.5, VOCABULARY, seed=3)
    tokens = np.tile(np.arange(VOCABULARY, dtype="int32"), (4, 3))  # every word, 12 times
    vectors = np.random.default_rng(0).normal(size=(*tokens.shape, 3)).astype("float32") + 5.0
    dropped = as_numpy(layer([tokens, vectors], training=True))
    scale = dropped / vectors
    np.testing.assert_allclose(scale, np.broadcast_to(scale[..., :1], scale.shape), rtol=1e-6)  # whole vectors
    for word in range(VOCABULARY):
        factors = np.unique(np.round(scale[tokens == word][:, 0], 5))
        assert len(factors) == 1 and factors[0] in (0.0, 2.0)  # every occurrence alike
    assert {0.0, 2.0} <= set(np.unique(np.round(scale, 5)))
    np.testing.assert_array_equal(as_numpy(layer([tokens, vectors])), vectors)


def test_activation_regularisation_adds_ar_and_tar_as_losses():
    layer = ActivationRegularisation(activation=2.0, temporal=3.0)
    rng = np.random.default_rng(0)
    undropped = rng.normal(size=(2, 5, 3)).astype("float32")
    dropped = undropped * (rng.random(undropped.shape) > 0.5).astype("float32") * 2
    output = as_numpy(layer([undropped, dropped], training=True))
    np.testing.assert_array_equal(output, dropped)
    ar = 2.0 * np.mean(dropped**2)  # on the dropped outputs
    tar = 3.0 * np.mean((undropped[:, 1:] - undropped[:, :-1]) ** 2)  # on the undropped
    assert float(as_numpy(layer.losses[0])) == pytest.approx(ar + tar, rel=1e-5)
    np.testing.assert_allclose(as_numpy(layer.totals), [ar, tar, 1.0], rtol=1e-5)
    layer([undropped, dropped])  # not in training: no loss, nothing counted
    assert not layer.losses
    np.testing.assert_allclose(as_numpy(layer.totals), [ar, tar, 1.0], rtol=1e-5)


def test_ar_and_tar_are_part_of_the_training_loss():
    config = tiny_config(units=4, dropout=0.0)
    heavy = dataclasses.replace(config, activation_regularisation=100.0, temporal_activation_regularisation=100.0)
    losses = []
    for settings in (config, heavy):
        keras.utils.set_random_seed(0)
        model = build_model(settings, FACTS, "training")
        compile_model(model, settings)
        losses.append(model.test_on_batch(*tiny_batches(settings)[0])[0])  # no loss terms outside training
        losses.append(model.train_on_batch(*tiny_batches(settings)[0])[0])
    plain_test, plain_train, heavy_test, heavy_train = losses
    assert heavy_test == pytest.approx(plain_test, rel=1e-6)
    assert heavy_train > plain_train + 0.01


def test_a_tied_output_of_another_width_trains_through_a_projection():
    config = tiny_config(tie_weights=True, units=6, embedding_dim=3, dropout=0.0)
    model = build_model(config, FACTS, "training")
    compile_model(model, config)
    projection = model.get_layer(TIED_PROJECTION)
    assert projection.kernel.shape == (6, 3) and not projection.use_bias
    before = as_numpy(projection.kernel).copy(), as_numpy(model.get_layer("embedding").embeddings).copy()
    batches = tiny_batches(config)
    for inputs, targets, *_ in (batches[i] for i in range(3)):
        assert np.isfinite(model.train_on_batch(inputs, targets)).all()
    assert not np.allclose(before[0], as_numpy(projection.kernel))
    assert not np.allclose(before[1], as_numpy(model.get_layer("embedding").embeddings))
    inference = copy_weights(model, build_model(config, FACTS))
    windows = batches[0][0]
    np.testing.assert_allclose(as_numpy(inference(windows)), as_numpy(model(windows))[:, -1], rtol=1e-5, atol=1e-6)
    assert TIED_PROJECTION not in [layer.name for layer in build_model(dataclasses.replace(config, units=3), FACTS).layers]
