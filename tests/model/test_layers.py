"""Every custom layer, and the InTopK metric, through one shared round trip (keras-hub's
run_layer_test is the model): built on a tiny input with the shape it promises, rebuilt
from its config, saved in a tiny model to .keras and loaded back with the same outputs,
and one training step moving the trainable weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

from word_predictor.backend import keras
from word_predictor.model.compile import InTopK
from word_predictor.model.cells import LSTM
from word_predictor.model.layers import CarriedRNN, LastStep, OneHot, TiedEmbedding
from word_predictor.model.regularisers import ActivationRegularisation, EmbeddingDropout, LockedDropout
from word_predictor.rundir import load_model

# Not marked `backend`: on JAX these tiny eager steps take minutes of CI; the JAX run trains and
# saves full-context runs (CarriedRNN) in batches/test_lanes.py and test_full_context.py instead.

VOCABULARY, BATCH, TIME = 7, 2, 4
layers = keras.layers


@dataclass
class Case:
    """One layer, and a tiny model around it whose training step reaches it."""

    make: Callable[[], keras.layers.Layer]
    inputs: Callable[[np.random.Generator], dict]  # the tiny model's inputs, by name
    model: Callable[[keras.layers.Layer], keras.Model]
    own_trainable_weights: int  # how many trainable weights the layer itself holds
    # (layer, inputs) -> (the layer called on its own, the shape it promises for that call)
    alone: Callable[[keras.layers.Layer, dict], tuple]


def ids(rng) -> np.ndarray:
    return rng.integers(0, VOCABULARY, (BATCH, TIME)).astype("int32")


def token_input(**kwargs):
    return keras.Input((TIME,), dtype="int32", name="tokens", **kwargs)


def one_hot_model(layer):
    tokens = token_input()
    return keras.Model(tokens, layers.Dense(VOCABULARY)(layer(tokens)))


def last_step_model(layer):
    tokens = token_input()
    return keras.Model(tokens, layers.Dense(VOCABULARY)(layer(layers.Embedding(VOCABULARY, 3)(tokens))))


def tied_model(layer):
    tokens = token_input()
    hidden = layers.Dense(3)(layer(tokens))  # (batch, time, 3)
    return keras.Model(tokens, layer(hidden, reverse=True))  # the same matrix scores: (batch, time, vocabulary)


def carried_model(layer):
    tokens = token_input(batch_size=BATCH)  # a lane per row: the state's batch is fixed
    reset = keras.Input((), batch_size=BATCH, name="reset")
    sequences = layer(layers.Embedding(VOCABULARY, 3)(tokens), reset)
    return keras.Model({"tokens": tokens, "reset": reset}, layers.Dense(VOCABULARY)(sequences))


def locked_model(layer):
    tokens = token_input()
    return keras.Model(tokens, layers.Dense(VOCABULARY)(layer(layers.Embedding(VOCABULARY, 3)(tokens))))


def embedding_dropout_model(layer):
    tokens = token_input()
    return keras.Model(tokens, layers.Dense(VOCABULARY)(layer([tokens, layers.Embedding(VOCABULARY, 3)(tokens)])))


def regularised_model(layer):
    tokens = token_input()
    undropped = layers.Embedding(VOCABULARY, 3)(tokens)
    return keras.Model(tokens, layers.Dense(VOCABULARY)(layer([undropped, layers.Dropout(0.5)(undropped)])))


def weight_dropped_model(layer):
    tokens = token_input()
    return keras.Model(tokens, layers.Dense(VOCABULARY)(layer(layers.Embedding(VOCABULARY, 3)(tokens))))


def just_tokens(rng) -> dict:
    return {"tokens": ids(rng)}


def tokens_and_reset(rng) -> dict:
    return {"tokens": ids(rng), "reset": np.array([1.0, 0.0], "float32")}


def embedded(rng):
    return rng.normal(size=(BATCH, TIME, 3)).astype("float32")


def one_hot_alone(layer, inputs):
    output = np.asarray(layer(inputs["tokens"]))
    np.testing.assert_array_equal(output, np.eye(VOCABULARY)[inputs["tokens"]])
    return output, layer.compute_output_shape(inputs["tokens"].shape)


def last_step_alone(layer, inputs):
    sequences = embedded(np.random.default_rng(1))
    output = np.asarray(layer(sequences))
    np.testing.assert_array_equal(output, sequences[:, -1])
    return output, layer.compute_output_shape(sequences.shape)


def tied_alone(layer, inputs):
    vectors = np.asarray(layer(inputs["tokens"]))  # (batch, time, 3)
    logits = np.asarray(layer(vectors, reverse=True))
    # Scoring reads the same matrix the lookup does, transposed (the bias starts at zero).
    np.testing.assert_allclose(logits, vectors @ np.asarray(layer.embeddings).T, rtol=1e-5, atol=1e-6)
    assert layer.compute_output_shape(inputs["tokens"].shape) == vectors.shape
    return logits, layer.compute_output_shape(vectors.shape, reverse=True)


def locked_alone(layer, inputs):
    sequences = embedded(np.random.default_rng(1))
    output = np.asarray(layer(sequences))
    np.testing.assert_array_equal(output, sequences)  # outside training: the identity
    return output, layer.compute_output_shape(sequences.shape)


def embedding_dropout_alone(layer, inputs):
    vectors = embedded(np.random.default_rng(1))
    output = np.asarray(layer([inputs["tokens"], vectors]))
    np.testing.assert_array_equal(output, vectors)
    return output, layer.compute_output_shape([inputs["tokens"].shape, vectors.shape])


def regularised_alone(layer, inputs):
    undropped = embedded(np.random.default_rng(1))
    output = np.asarray(layer([undropped, undropped * 2]))
    np.testing.assert_array_equal(output, undropped * 2)  # the dropped outputs go on
    return output, layer.compute_output_shape([undropped.shape, undropped.shape])


def weight_dropped_alone(layer, inputs):
    sequences = embedded(np.random.default_rng(1))
    output = np.asarray(layer(sequences))
    return output, layer.compute_output_shape(sequences.shape)


def carried_alone(layer, inputs):
    sequences = embedded(np.random.default_rng(1))
    output = np.asarray(layer(sequences, inputs["reset"]))
    return output, layer.compute_output_shape(sequences.shape, inputs["reset"].shape)


CASES = {
    "OneHot": Case(lambda: OneHot(VOCABULARY), just_tokens, one_hot_model, 0, one_hot_alone),
    "LastStep": Case(LastStep, just_tokens, last_step_model, 0, last_step_alone),
    "TiedEmbedding": Case(lambda: TiedEmbedding(VOCABULARY, 3), just_tokens, tied_model, 2, tied_alone),
    **{
        f"CarriedRNN-{cell}": Case(lambda cell=cell: CarriedRNN(cell, units=3, lanes=BATCH), tokens_and_reset,
                                   carried_model, 3, carried_alone)  # kernel, recurrent kernel, bias
        for cell in ("lstm", "gru")  # two states and one; SimpleRNN carries one as GRU does
    },
    "CarriedRNN-weight-drop": Case(lambda: CarriedRNN("lstm", units=3, lanes=BATCH, weight_drop=0.5),
                                   tokens_and_reset, carried_model, 3, carried_alone),
    # the training-only regularisers (model.regularisers)
    "LSTM-weight-drop": Case(lambda: LSTM(3, return_sequences=True, weight_drop=0.5), just_tokens,
                             weight_dropped_model, 3, weight_dropped_alone),
    "LockedDropout": Case(lambda: LockedDropout(0.5, seed=1), just_tokens, locked_model, 0, locked_alone),
    "EmbeddingDropout": Case(lambda: EmbeddingDropout(0.3, VOCABULARY, seed=1), just_tokens,
                             embedding_dropout_model, 0, embedding_dropout_alone),
    "ActivationRegularisation": Case(lambda: ActivationRegularisation(2.0, 1.0), just_tokens, regularised_model, 0,
                                     regularised_alone),
}  # fmt: skip


def fed(inputs: dict):
    """What the tiny model takes: its one array, or the arrays by name."""
    return inputs["tokens"] if len(inputs) == 1 else inputs


@pytest.fixture(params=list(CASES), ids=list(CASES))
def case(request) -> Case:
    keras.utils.set_random_seed(0)
    return CASES[request.param]


def test_a_layer_builds_with_the_shape_it_promises(case):
    layer = case.make()
    output, promised = case.alone(layer, case.inputs(np.random.default_rng(0)))
    assert output.shape == tuple(promised) and np.isfinite(output).all()
    assert len(layer.trainable_weights) == case.own_trainable_weights


def test_a_layer_rebuilt_from_its_config_is_the_same_layer(case):
    layer = case.make()
    case.alone(layer, case.inputs(np.random.default_rng(0)))  # built, so the config is complete
    config = layer.get_config()
    again = type(layer).from_config(config)
    assert again.get_config() == config
    # Through Keras' own registry too, as a saved model is read.
    assert type(keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))) is type(layer)


def test_a_model_holding_the_layer_saves_and_loads_with_the_same_outputs(case, tmp_path):
    model = case.model(case.make())
    inputs = fed(case.inputs(np.random.default_rng(0)))
    model.predict_on_batch(inputs)  # a CarriedRNN now holds a state
    path = tmp_path / "tiny.keras"
    model.save(path)
    loaded = load_model(path)  # the project's loader: safe mode, the project's layers registered
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    # A CarriedRNN's state is saved as zeros (each epoch starts every lane from zero, and a
    # state spread over several devices is never read back): the loaded model is the
    # original with its lanes reset.
    for layer in model.layers:
        if isinstance(layer, CarriedRNN):
            layer.reset_states()
    np.testing.assert_allclose(loaded.predict_on_batch(inputs), model.predict_on_batch(inputs), rtol=1e-5, atol=1e-6)


def test_one_training_step_moves_every_trainable_weight(case):
    model = case.model(case.make())
    # Eager: one step shows whether gradients reach each weight; the compiled steps of these
    # layers are trained in test_factory.py and batches/test_lanes.py, at a tracing cost paid once there.
    model.compile(optimizer=keras.optimizers.Adam(0.05),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), run_eagerly=True)  # fmt: skip
    inputs = fed(case.inputs(np.random.default_rng(0)))
    targets = np.random.default_rng(2).integers(0, VOCABULARY, (BATCH, *model.output_shape[1:-1]))
    before = [np.array(weight) for weight in model.trainable_weights]
    loss = model.train_on_batch(inputs, targets)
    assert np.isfinite(loss)
    moved = [not np.allclose(a, np.array(b)) for a, b in zip(before, model.trainable_weights)]
    assert all(moved), [w.path for w, m in zip(model.trainable_weights, moved) if not m]


def test_in_top_k_round_trips_through_its_config_and_a_saved_model(tmp_path):
    metric = InTopK(2, name="top2")
    again = keras.metrics.deserialize(keras.metrics.serialize(metric))
    assert type(again) is InTopK and again.get_config() == metric.get_config()
    rng = np.random.default_rng(0)
    logits, targets = rng.normal(size=(5, VOCABULARY)).astype("float32"), rng.integers(0, VOCABULARY, 5)
    for m in (metric, again):
        m.update_state(targets, logits)
    assert float(again.result()) == float(metric.result())
    expected = np.mean([(logits[i] > logits[i, t]).sum() < 2 for i, t in enumerate(targets)])
    assert float(metric.result()) == pytest.approx(expected)

    tokens = token_input()
    model = keras.Model(tokens, layers.Dense(VOCABULARY)(layers.Embedding(VOCABULARY, 3)(tokens)))
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[InTopK(2, name="top2")])  # fmt: skip
    model.optimizer.build(model.trainable_variables)  # saved with the model, as compile_model does
    batch = ids(rng), ids(rng)
    path = tmp_path / "compiled.keras"
    model.save(path)
    loaded = load_model(path, compile=True)
    assert loaded.evaluate(*batch, verbose=0, return_dict=True) == pytest.approx(
        model.evaluate(*batch, verbose=0, return_dict=True)
    )
