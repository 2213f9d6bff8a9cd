"""The recurrent layers that project their inputs before the time loop give what Keras' own
layers give (outputs, final states and gradients, every direction and loop form), and a
step then multiplies only the recurrent matrix."""

from __future__ import annotations

import numpy as np
import pytest

from word_predictor.backend import keras
from word_predictor.model import build_model, cells
from word_predictor.model.layers import CELL_LAYERS
from tests.helpers import FACTS, VOCABULARY, tiny_config
from word_predictor.rundir import load_model

ops = keras.ops
BATCH, TIME, FEATURES, UNITS = 3, 6, 5, 4
KERAS_OWN = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple_rnn": keras.layers.SimpleRNN}


def twins(cell: str, **kwargs):
    """Keras' layer and ours, built, holding the same (non-trivial) weights."""
    rng = np.random.default_rng(7)
    theirs = KERAS_OWN[cell](UNITS, return_sequences=True, return_state=True, **kwargs)
    ours = CELL_LAYERS[cell](UNITS, return_sequences=True, return_state=True, **kwargs)
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    theirs(x), ours(x)
    theirs.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32") for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    return theirs, ours, x


def outputs_and_gradients(layer, x):
    """The layer's outputs and final states, and d(sum of them)/d(each weight), on any backend."""
    variables = layer.trainable_variables
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            results = layer(x)
            total = sum(ops.sum(r * (k + 1)) for k, r in enumerate(results))
        return [np.asarray(r) for r in results], [np.asarray(g) for g in tape.gradient(total, variables)]
    if keras.backend.backend() == "jax":
        import jax

        def loss(values):
            results, _ = layer.stateless_call(values, [v.value for v in layer.non_trainable_variables], x)
            return sum((r * (k + 1)).sum() for k, r in enumerate(results)), results

        (_, results), grads = jax.value_and_grad(loss, has_aux=True)([v.value for v in variables])
        return [np.asarray(r) for r in results], [np.asarray(g) for g in grads]
    pytest.skip("compared on TensorFlow (the main pass) and JAX (the JAX pass); torch has its own kernel")


@pytest.mark.backend
@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("unroll", [False, True])
def test_a_layer_gives_what_keras_own_gives(cell, go_backwards, unroll):
    theirs, ours, x = twins(cell, go_backwards=go_backwards, unroll=unroll)
    expected, got = outputs_and_gradients(theirs, x), outputs_and_gradients(ours, x)
    for expected, got in zip(expected[0] + expected[1], got[0] + got[1], strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_masks_and_the_cells_own_dropout_keep_keras_loop(cell):
    theirs, ours, x = twins(cell, dropout=0.5, recurrent_dropout=0.5)
    for expected, got in zip(theirs(x), ours(x), strict=True):  # dropout is off outside training
        np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-5, atol=1e-5)
    mask = np.array([[True] * TIME, [True] * (TIME - 2) + [False] * 2, [True] + [False] * (TIME - 1)])
    theirs, ours, x = twins(cell)
    for expected, got in zip(theirs(x, mask=mask), ours(x, mask=mask), strict=True):
        np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-5, atol=1e-5)


def matmuls_in_graph(layer, x) -> int:
    import tensorflow as tf

    graph = tf.function(layer).get_concrete_function(tf.TensorSpec(x.shape, tf.float32)).graph
    return sum(op.type in ("MatMul", "BatchMatMulV2") for op in graph.get_operations())


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_an_unrolled_step_multiplies_only_the_recurrent_matrix(cell):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("counts TensorFlow graph operations; the TensorFlow pass runs it")
    theirs, ours, x = twins(cell, unroll=True)
    assert matmuls_in_graph(theirs, x) == 2 * TIME  # input and recurrent product at every step
    assert matmuls_in_graph(ours, x) == TIME + 1  # the inputs once, then the recurrent product per step


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_the_model_uses_them_and_saves_and_loads_them(cell, tmp_path):
    model = build_model(tiny_config(cell=cell), FACTS)
    recurrent = [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]
    assert recurrent and all(isinstance(layer, cells.InputsProjectedFirst) for layer in recurrent)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")  # safe mode, as every command loads a run
    ids = np.arange(12, dtype="int32").reshape(2, 6) % VOCABULARY
    assert type(loaded.get_layer(recurrent[0].name)) is type(recurrent[0])
    np.testing.assert_allclose(np.asarray(loaded(ids)), np.asarray(model(ids)), rtol=1e-6, atol=1e-6)


# The time loop the layers above run is Keras' private keras.src.backend.rnn: Keras 3.15
# exports no public name for it (keras.ops has scan, not rnn), and keras.layers.RNN runs it
# too. These two tests pin what the layers rely on, so that a Keras upgrade that changes it
# fails here by name instead of changing the layers' results quietly.
RNN_ARGUMENTS = ("step_function", "inputs", "initial_states", "go_backwards", "unroll", "input_length",
                 "return_all_outputs")  # fmt: skip


@pytest.mark.backend
def test_keras_private_time_loop_takes_the_arguments_the_layers_pass():
    import inspect

    parameters = list(inspect.signature(cells.backend_rnn).parameters)
    assert parameters[:3] == list(RNN_ARGUMENTS[:3])  # passed by position
    assert set(RNN_ARGUMENTS) <= set(parameters), parameters  # the rest by name


@pytest.mark.backend
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("unroll", [False, True])
@pytest.mark.parametrize("all_outputs", [False, True])
def test_keras_private_time_loop_gives_what_a_plain_loop_gives(go_backwards, unroll, all_outputs):
    """(last output, outputs, states) as a NumPy loop over the steps gives them: the outputs
    in the order the steps ran, ending with the last output without all_outputs."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(BATCH, TIME, UNITS)).astype("float32")
    start = rng.normal(size=(BATCH, UNITS)).astype("float32")
    recurrent = rng.normal(scale=0.5, size=(UNITS, UNITS)).astype("float32")

    def step(inputs, states):  # (batch, units), [(batch, units)] -> (batch, units), [state]
        h = ops.tanh(inputs + ops.matmul(states[0], recurrent))
        return h, [h]

    last, outputs, states = cells.backend_rnn(step, x, [start], go_backwards=go_backwards, unroll=unroll,
                                              input_length=TIME, return_all_outputs=all_outputs)  # fmt: skip
    h, expected = start, []
    for t in (range(TIME - 1, -1, -1) if go_backwards else range(TIME)):
        h = np.tanh(x[:, t] + h @ recurrent)
        expected.append(h)
    np.testing.assert_allclose(np.asarray(last), h, rtol=1e-5, atol=1e-5)
    if all_outputs:
        np.testing.assert_allclose(np.asarray(outputs), np.stack(expected, axis=1), rtol=1e-5, atol=1e-5)
    else:  # the layers then read `last` (TensorFlow gives (batch, 1, units), JAX every step): its end is h
        np.testing.assert_allclose(np.asarray(outputs)[:, -1], h, rtol=1e-5, atol=1e-5)
    assert len(states) == 1
    np.testing.assert_allclose(np.asarray(states[0]), h, rtol=1e-5, atol=1e-5)
