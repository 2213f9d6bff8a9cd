"""The three recurrent layers, each reading a whole sequence's inputs through its input
matrix once, before the time loop, so that a step multiplies only the recurrent matrix.

Keras' own layers multiply each step's input by the input matrix inside the loop (on a
CPU with TensorFlow, and on JAX without a GPU): a 35-step sequence then makes 35 small
products where one large one does the same work, and a character run reading a text at
batch 1 does half again the sequential work per character it needs. PyTorch's LSTM and
ONNX Runtime's project the inputs first too (docs/benchmarks.md, "A long text on a character run").

These are Keras' LSTM, GRU and SimpleRNN with only the fallback loop changed: the
weights, their names and their layout are Keras' own; a GPU still gets the backend's
fused (cuDNN) kernel, tried first by Keras' LSTM and GRU before they fall back to
`RNN.inner_loop`, which the mixin below stands in for (it sits between them and
`keras.layers.RNN` in the method order). Masks and the cells' own dropout (which this
model never uses) keep Keras' loop.

`weight_drop` (a training-only regulariser, model.regularisers) drops entries of the
recurrent kernel once per call, before the loop: every step of a batch shares one mask,
and the inputs are still projected first. A training call with it runs this loop, never
the fused kernel (cuDNN's, or PyTorch's on the torch backend), which would not see the
dropped kernel.
"""

from __future__ import annotations

from word_predictor.backend import keras
from word_predictor.model.regularisers import drop_connect

layers, ops = keras.layers, keras.ops
# The time loop keras.layers.RNN runs. Keras exports no public name for it, so what the layers
# rely on is pinned by tests/model/test_cells.py (a Keras upgrade that changes it fails there).
backend_rnn = keras.src.backend.rnn


class InputsProjectedFirst(layers.RNN):
    """Stands in for RNN.inner_loop: inputs @ kernel (+ bias) for every step at once,
    then the loop with `_step(projected_input, states, recurrent_kernel) -> (output, states)`."""

    def __init__(self, *args, weight_drop: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.weight_drop = weight_drop

    def inner_loop(self, sequences, initial_state, mask, training=False):
        cell = self.cell
        if mask is not None or cell.dropout or cell.recurrent_dropout or not self._projects_first():
            return super().inner_loop(sequences, initial_state, mask=mask, training=training)
        projected = ops.matmul(sequences, cell.kernel)
        if cell.use_bias:
            projected = projected + self._input_bias()
        recurrent_kernel = ops.cast(cell.recurrent_kernel, sequences.dtype)
        if training and self.weight_drop:  # the cell's own seed generator: its dropout is never used here
            recurrent_kernel = drop_connect(recurrent_kernel, self.weight_drop, cell.seed_generator)
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        return backend_rnn(
            lambda inputs, states: self._step(inputs, states, recurrent_kernel), projected, states,
            go_backwards=self.go_backwards, unroll=self.unroll, input_length=sequences.shape[1],
            return_all_outputs=self.return_sequences,
        )  # fmt: skip

    def get_config(self):
        return {**super().get_config(), "weight_drop": self.weight_drop}

    def _projects_first(self) -> bool:
        return True

    def _input_bias(self):
        return self.cell.bias


@keras.saving.register_keras_serializable(package="word_predictor")
class LSTM(layers.LSTM, InputsProjectedFirst):
    def inner_loop(self, sequences, initial_state, mask, training=False):
        if training and self.weight_drop:  # not the fused kernel, which would not see the dropped kernel
            return InputsProjectedFirst.inner_loop(self, sequences, initial_state, mask, training)
        return super().inner_loop(sequences, initial_state, mask, training)

    def _step(self, projected, states, recurrent_kernel):
        cell, (h, c) = self.cell, states
        z = projected + ops.matmul(h, recurrent_kernel)
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        c = cell.recurrent_activation(z_f) * c + cell.recurrent_activation(z_i) * cell.activation(z_c)
        h = cell.recurrent_activation(z_o) * cell.activation(c)
        return h, [h, c]


@keras.saving.register_keras_serializable(package="word_predictor")
class GRU(layers.GRU, InputsProjectedFirst):
    """reset_after=True (Keras' default, cuDNN's form) only: the reset gate then scales
    the recurrent product, never the input's, so the input's part can be made first."""

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if training and self.weight_drop:  # as LSTM's
            return InputsProjectedFirst.inner_loop(self, sequences, initial_state, mask, training)
        return super().inner_loop(sequences, initial_state, mask, training)

    def _projects_first(self) -> bool:
        return self.cell.reset_after

    def _input_bias(self):
        return self.cell.bias[0]

    def _step(self, projected, states, recurrent_kernel):
        cell, h = self.cell, states[0]
        recurrent = ops.matmul(h, recurrent_kernel)
        if cell.use_bias:
            recurrent = recurrent + cell.bias[1]
        x_z, x_r, x_h = ops.split(projected, 3, axis=-1)
        r_z, r_r, r_h = ops.split(recurrent, 3, axis=-1)
        z = cell.recurrent_activation(x_z + r_z)
        candidate = cell.activation(x_h + cell.recurrent_activation(x_r + r_r) * r_h)
        h = z * h + (1 - z) * candidate
        return h, [h]


@keras.saving.register_keras_serializable(package="word_predictor")
class SimpleRNN(layers.SimpleRNN, InputsProjectedFirst):
    def _step(self, projected, states, recurrent_kernel):
        cell = self.cell
        h = projected + ops.matmul(states[0], recurrent_kernel)
        if cell.activation is not None:
            h = cell.activation(h)
        return h, [h]
