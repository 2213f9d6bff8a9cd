"""A run's weights -> an ONNX graph of the stateless step, built with onnx's helper API.

    tokens (batch, time) int32  [+ each state (batch, units) for a full-context run]
      -> Gather(embedding)  or  OneHot(vocabulary)          (batch, time, features)
      -> Transpose to time-major                            (time, batch, features)
      -> LSTM | GRU | RNN per layer (bidirectional on request), ONNX's own operators
      -> window: the last layer's final hidden state Y_h    (batch, units [x 2])
         full:   every position, back to batch-major        (batch, time, units)
      -> tied, sizes differing: MatMul(the projection to the embedding's width)
      -> "hidden": what the output layer reads (adaptation.hidden's view in Keras)
      -> MatMul(dense kernel, or the embedding transposed when tied) + bias
      -> "logits" (batch, vocabulary) or (batch, time, vocabulary)  [+ each new state]

Two outputs beside the states: "logits", and "hidden", the continuous cache's key
(word_predictor.adaptation.cache). "hidden" is an Identity of a tensor the logits are
computed from anyway, so a call that asks for the logits alone does no more work.

Why not Keras' own `model.export(format="onnx")`: Keras 3.15 converts through tf2onnx on
TensorFlow (its last release predates TF 2.21, and needs Keras' own numpy-2 patches) and
through jax2onnx on JAX, so the result depends on the backend a run was trained on and on
a converter per backend; the full-context model's recurrent layers would become a traced
loop, not ONNX's recurrent operators. The weights are a few plain matrices, so building
the graph from them works the same from a run of any backend, and ONNX Runtime runs its
fused LSTM/GRU kernels.

Gate orders differ (Keras -> ONNX): LSTM [i, f, c, o] -> [i, o, f, c]; GRU [z, r, h] is the
same, and Keras' reset_after=True is ONNX's linear_before_reset=1 with a recurrent bias of
its own; SimpleRNN has one gate. ONNX keeps input and recurrent biases apart (Wb, Rb):
Keras' single LSTM/RNN bias goes in Wb, Rb is zero.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from word_predictor.batches.kinds import kind_of
from word_predictor.config import STATES_PER_CELL, Config, CorpusFacts

OPSET = 17  # ONNX Runtime 1.14 and later (mobile builds included) run it
IR_VERSION = 8  # the IR of opset 17; onnx 1.23 would write its newest, which runtimes before it refuse
ONNX_CELLS = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "RNN"}
GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}
_LSTM_ORDER = (0, 3, 1, 2)  # Keras i, f, c, o -> ONNX i, o, f, c
HIDDEN = "hidden"  # the second output: the tensor the output layer reads


def state_names(config: Config) -> list[tuple[str, str]]:
    """(input name, output name) of each state a full-context run carries, in Keras' order
    (per layer; an LSTM's h then c); none for a window run."""
    if not kind_of(config).explicit_states:
        return []
    per_cell = STATES_PER_CELL[config.cell]
    return [
        (f"{config.cell}_{layer}_state_{i}", f"{config.cell}_{layer}_state_{i}_next")
        for layer in range(1, config.layers + 1)
        for i in range(per_cell)
    ]


def _gates(matrix: np.ndarray, cell: str) -> np.ndarray:
    """(..., gates * units) in Keras' gate order -> the same in ONNX's order."""
    if cell != "lstm":
        return matrix
    parts = np.split(matrix, 4, axis=-1)
    return np.concatenate([parts[i] for i in _LSTM_ORDER], axis=-1)


def onnx_direction(cell: str, weights: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One direction's Keras weights (kernel (in, g*u), recurrent (u, g*u), bias) -> ONNX W, R, B
    for that direction: (g*u, in), (g*u, u), (2*g*u,)."""
    kernel, recurrent, bias = weights
    units = recurrent.shape[0]
    if cell == "gru":  # reset_after=True: bias is (2, 3u), input then recurrent
        input_bias, recurrent_bias = bias[0], bias[1]
    else:
        input_bias, recurrent_bias = bias, np.zeros(GATES[cell] * units, bias.dtype)
    w = _gates(kernel, cell).T
    r = _gates(recurrent, cell).T
    b = np.concatenate([_gates(input_bias, cell), _gates(recurrent_bias, cell)])
    return w, r, b


class _Graph:
    """Nodes and initialisers as they are added, with fresh names."""

    def __init__(self):
        self.nodes, self.initializers, self.count = [], [], 0

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def add(self, op: str, inputs: list[str], outputs: int | list[str] = 1, **attributes) -> list[str]:
        if isinstance(outputs, int):
            self.count += 1
            outputs = [f"{op.lower()}_{self.count}_{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, outputs, **attributes))
        return outputs

    def one(self, op: str, inputs: list[str], **attributes) -> str:
        return self.add(op, inputs, 1, **attributes)[0]


def build_onnx(config: Config, facts: CorpusFacts, weights: dict) -> onnx.ModelProto:
    """The step graph (see the module docstring) from `weights` (export.weights.read_weights)."""
    g = _Graph()
    states = state_names(config)
    every_position = kind_of(config).answers_every_position  # logits (batch, time, vocabulary), else the last
    per_cell = STATES_PER_CELL[config.cell]
    axis0 = g.constant("axis_0", np.array([0], np.int64)) if states else ""
    if config.one_hot:
        # int32 depth beside int32 ids: the pairing ONNX Runtime's OneHot kernel has
        depth = g.constant("one_hot_depth", np.array([facts.vocabulary_size], np.int32))
        values = g.constant("one_hot_values", np.array([0.0, 1.0], np.float32))
        x = g.one("OneHot", ["tokens", depth, values], axis=-1)
    else:
        x = g.one("Gather", [g.constant("embedding", weights["embedding"][0]), "tokens"])
    x = g.one("Transpose", [x], perm=[1, 0, 2])  # (time, batch, features)
    for layer in range(1, config.layers + 1):
        name = f"{config.cell}_{layer}"
        directions = weights[name] if config.bidirectional else [weights[name]]
        w, r, b = (np.stack(parts) for parts in zip(*(onnx_direction(config.cell, d) for d in directions)))
        inputs = [x, g.constant(f"{name}_W", w), g.constant(f"{name}_R", r), g.constant(f"{name}_B", b), ""]
        layer_states = states[(layer - 1) * per_cell : layer * per_cell]
        inputs += [g.one("Unsqueeze", [state_in, axis0]) for state_in, _ in layer_states]  # (1, batch, units)
        attributes = {
            "hidden_size": config.units,
            "direction": "bidirectional" if config.bidirectional else "forward",
        }
        if config.cell == "gru":
            attributes["linear_before_reset"] = 1
        sequence, *finals = g.add(ONNX_CELLS[config.cell], inputs, 1 + per_cell, **attributes)
        for final, (_, state_out) in zip(finals, layer_states):
            g.add("Squeeze", [final, axis0], [state_out])
        last = layer == config.layers
        if last and not every_position:  # the final hidden state: (directions, batch, units)
            x = g.one("Reshape", [g.one("Transpose", [finals[0]], perm=[1, 0, 2]), _shape(g, [0, -1])])
        else:  # (time, directions, batch, units) -> (time, batch, directions * units)
            x = g.one("Reshape", [g.one("Transpose", [sequence], perm=[0, 2, 1, 3]), _shape(g, [0, 0, -1])])
    if every_position:
        x = g.one("Transpose", [x], perm=[1, 0, 2])  # (batch, time, units)
    if "tied_projection" in weights:  # (..., units) -> (..., embedding_dim)
        x = g.one("MatMul", [x, g.constant("tied_projection", weights["tied_projection"][0])])
    g.add("Identity", [x], [HIDDEN])
    if config.tie_weights:
        kernel, bias = (
            g.one("Transpose", ["embedding"], perm=[1, 0]),
            g.constant("output_bias", weights["embedding"][1]),
        )
    else:
        kernel, bias = (
            g.constant(f"next_word_{part}", v) for part, v in zip(("kernel", "bias"), weights["next_word"])
        )
    g.add("Add", [g.one("MatMul", [x, kernel]), bias], ["logits"])
    return _model(config, facts, g, states)


def _shape(g: _Graph, dims: list[int]) -> str:
    return g.constant(f"shape_{'_'.join(str(d).replace('-', 'm') for d in dims)}", np.array(dims, np.int64))


def _model(config: Config, facts: CorpusFacts, g: _Graph, states: list[tuple[str, str]]) -> onnx.ModelProto:
    def float_state(name: str):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", config.units])

    inputs = [helper.make_tensor_value_info("tokens", TensorProto.INT32, ["batch", "time"])]
    inputs += [float_state(state_in) for state_in, _ in states]
    logits_shape = (
        ["batch", "time", facts.vocabulary_size]
        if kind_of(config).answers_every_position
        else ["batch", facts.vocabulary_size]
    )
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, logits_shape)]
    hidden_shape = [*logits_shape[:-1], hidden_width(config)]
    outputs.append(helper.make_tensor_value_info(HIDDEN, TensorProto.FLOAT, hidden_shape))
    outputs += [float_state(state_out) for _, state_out in states]
    # Initialisers made once but named twice (a shape used by two layers) are kept once.
    unique = list({tensor.name: tensor for tensor in g.initializers}.values())
    graph = helper.make_graph(g.nodes, "word_predictor_step", inputs, outputs, unique)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="word_predictor",
        ir_version=IR_VERSION,
    )
    onnx.checker.check_model(model)
    return model


def hidden_width(config: Config) -> int:
    """The width of what the output layer reads: the embedding's when tied (through the
    projection where the sizes differ), else the last layer's output, both directions."""
    if config.tie_weights:
        return config.embedding_dim
    return config.units * (2 if config.bidirectional else 1)


MODEL_FILE = "model.onnx"


def write(config: Config, facts: CorpusFacts, weights: dict, folder, model=None):
    """model.onnx in `folder` from `weights` (`model`, the Keras view, is not needed); returns
    its name, the logits' output name, the states (input, output, shape) and the hidden
    output (name, shape)."""
    onnx.save_model(build_onnx(config, facts, weights), str(folder / MODEL_FILE))
    states = [{"name": state_in, "output": state_out, "shape": ["batch", config.units]}
              for state_in, state_out in state_names(config)]  # fmt: skip
    time = ["time"] if kind_of(config).answers_every_position else []
    return MODEL_FILE, "logits", states, {"name": HIDDEN, "shape": ["batch", *time, hidden_width(config)]}
