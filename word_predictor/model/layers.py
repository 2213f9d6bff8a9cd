"""The model's own layers: one-hot input, the last step, the tied embedding and the
recurrent layer whose state is carried between batches (full context)."""

from __future__ import annotations

import numpy as np

from word_predictor.backend import keras
from word_predictor.config import CELLS, STATES_PER_CELL  # noqa: F401 (model/ names it too)
from word_predictor.model.cells import GRU, LSTM, SimpleRNN

layers, ops = keras.layers, keras.ops

CELL_LAYERS = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}  # Keras' own, inputs projected first
assert tuple(CELL_LAYERS) == CELLS

OUTPUT_LAYER = "next_word"


@keras.saving.register_keras_serializable(package="word_predictor")
class OneHot(layers.Layer):
    """(batch, time) ids -> (batch, time, depth) one-hot, made per batch inside the model."""

    def __init__(self, depth: int, **kwargs):
        super().__init__(**kwargs)
        self.depth = depth

    def call(self, ids):
        return ops.one_hot(ops.cast(ids, "int32"), self.depth, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.depth)

    def get_config(self):
        return {**super().get_config(), "depth": self.depth}


@keras.saving.register_keras_serializable(package="word_predictor")
class LastStep(layers.Layer):
    """(batch, time, features) -> (batch, features): the last position only."""

    def call(self, inputs):
        return inputs[:, -1, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


def uniform_init():
    """Uniform in +-0.1, as the reference LSTM language models start their embedding and
    output matrices (Keras' defaults are +-0.05 and Glorot, +-0.035 at 200 x 4,703): with
    those a stack of two LSTMs sat at the unigram distribution for its first ~600
    steps on WikiText-2; with these it learns from the start (docs/benchmarks-log.md,
    "Full context against the PyTorch word-language-model recipe")."""
    return keras.initializers.RandomUniform(-0.1, 0.1)


def recurrent_layer(cell: str, units: int, use_cudnn, **kwargs):
    # SimpleRNN has no cuDNN kernel and no use_cudnn argument.
    if cell != "simple_rnn":
        kwargs["use_cudnn"] = use_cudnn
    return CELL_LAYERS[cell](units, **kwargs)


@keras.saving.register_keras_serializable(package="word_predictor")
class TiedEmbedding(layers.Embedding):
    """An embedding that also scores: called with reverse=True it maps
    (..., embedding_dim) hidden states to (..., vocabulary) logits through its own
    matrix, transposed, plus a bias (Press & Wolf, 2017; Inan et al., 2017)."""

    def build(self, input_shape=None):
        super().build(input_shape)
        self.bias = self.add_weight(shape=(self.input_dim,), initializer="zeros", name="output_bias")

    def call(self, inputs, reverse: bool = False):
        if not reverse:
            return super().call(inputs)
        return ops.matmul(inputs, ops.transpose(ops.cast(self.embeddings, inputs.dtype))) + ops.cast(
            self.bias, inputs.dtype
        )

    def compute_output_shape(self, input_shape, reverse: bool = False):
        return (*input_shape[:-1], self.input_dim) if reverse else super().compute_output_shape(input_shape)

    # Embedding saves only its matrix (its own format, for quantisation); save the bias too.
    def save_own_variables(self, store):
        layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        layers.Layer.load_own_variables(self, store)

    def compute_output_spec(self, inputs, reverse: bool = False):
        if not reverse:
            return super().compute_output_spec(inputs)
        return keras.KerasTensor(self.compute_output_shape(inputs.shape, reverse=True), dtype=self.compute_dtype)


@keras.saving.register_keras_serializable(package="word_predictor")
class CarriedRNN(layers.Layer):
    """A recurrent layer whose final state is the next call's initial state, per lane.

    Keras' own `stateful=True` does not carry on every backend: on JAX its states
    are not among the model's non-trainable variables, so the stateless training
    step never threads them through. Here the state is kept the way batch
    normalisation keeps its statistics, in non-trainable weights assigned in
    `call`, which every backend's training, evaluation and prediction steps carry.

        (lanes, time, features), reset (lanes,) -> (lanes, time, units)
        state (lanes, units) per LSTM/GRU state: zeroed where reset is 1, then read,
        then overwritten by the final state (no gradient flows across calls)
    """

    def __init__(self, cell: str, units: int, lanes: int, use_cudnn="auto", unroll: bool = False,
                 weight_drop: float = 0.0, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.cell, self.units, self.lanes, self.use_cudnn, self.unroll = cell, units, lanes, use_cudnn, unroll
        self.weight_drop = weight_drop  # a training-only regulariser (model.regularisers)
        self.rnn = recurrent_layer(
            cell, units, use_cudnn, return_sequences=True, return_state=True, unroll=unroll, name=cell,
            weight_drop=weight_drop,
        )  # fmt: skip
        self.carried = []

    def build(self, inputs_shape, reset_shape=None):
        self.rnn.build(inputs_shape)
        self.carried = [
            self.add_weight(shape=(self.lanes, self.units), initializer="zeros", trainable=False, name=f"state_{i}")
            for i in range(STATES_PER_CELL[self.cell])
        ]

    def call(self, inputs, reset, training=False):
        keep = ops.cast(1.0 - ops.reshape(ops.cast(reset, "float32"), (-1, 1)), self.compute_dtype)
        initial = [ops.stop_gradient(ops.cast(state, self.compute_dtype)) * keep for state in self.carried]
        sequences, *final = self.rnn(inputs, initial_state=initial, training=training)
        for state, value in zip(self.carried, final):
            state.assign(ops.cast(ops.stop_gradient(value), state.dtype))
        return sequences

    def reset_states(self) -> None:
        for state in self.carried:
            state.assign(ops.zeros_like(state))

    def save_own_variables(self, store):
        # Saved as zeros, never read from the devices: every epoch starts each lane from
        # zero (a reset), so a checkpoint, made at an epoch's end, needs no state; and a
        # state split over several processes' devices is not readable by one of them.
        for number, state in enumerate(self.carried):
            store[f"{number}"] = np.zeros(state.shape, state.dtype)

    def compute_output_shape(self, inputs_shape, reset_shape=None):
        return (*inputs_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "cell": self.cell, "units": self.units, "lanes": self.lanes, "use_cudnn": self.use_cudnn,
            "unroll": self.unroll, "weight_drop": self.weight_drop,
        }  # fmt: skip

