"""The hidden state beside the logits: a second view of a run's inference model, sharing
its layers and weights, whose first output is the logits with the last layer's output
(what the output layer reads) appended along the last axis:

    inference view   tokens[, *states]  ->  logits (.., vocabulary)          [, *states]
    hidden view      tokens[, *states]  ->  logits | hidden (.., vocabulary + units) [, *states]

One output rather than two, so the run's own reader (word_predictor.batches) reads it
unchanged; segments.split cuts it apart again. The exported ONNX graph gives the same
tensor as an output of its own, "hidden" (word_predictor.exporter.onnx), which the
runtime joins to the logits the same way.
"""

from __future__ import annotations

from word_predictor.adaptation.segments import split  # noqa: F401 (the layout's other half, named here too)
from word_predictor.backend import keras


def hidden_tensor(model: keras.Model):
    """The tensor the output layer reads: the input of the operation that makes the
    logits' input (a Dense output layer, or a tied embedding read in reverse)."""
    logits = model.outputs[0]
    tensor = logits
    for _ in range(2):  # logits <- the float32 activation <- the output layer
        operation, node_index, _ = tensor._keras_history
        tensor = operation._inbound_nodes[node_index].input_tensors[0]
    return tensor


def hidden_view(model: keras.Model) -> keras.Model:
    """`model` with its hidden state appended to its logits (see the module docstring)."""
    logits, *rest = model.outputs
    hidden = keras.layers.Activation("linear", dtype="float32", name="hidden_state")(hidden_tensor(model))
    joined = keras.layers.Concatenate(axis=-1, dtype="float32", name="logits_and_hidden")([logits, hidden])
    return keras.Model(model.inputs, [joined, *rest] if rest else joined, name=f"{model.name}_hidden")
