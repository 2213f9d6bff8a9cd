"""ONNX export against the Keras model it came from, for every model kind: the same
next-token log-probabilities (within 1e-4) on real text, the same state, and the same
hidden state (what the output layer reads, the continuous cache's key)."""

import numpy as np
import pytest

pytest.importorskip("onnx", reason="the export extra (pip install -e .[export]) is not installed")
pytest.importorskip("onnxruntime", reason="the runtime extra (pip install -e .[runtime]) is not installed")

from tests.exporter.kinds import DEFAULT_KINDS, KINDS, log_softmax, make_run, real_split  # noqa: E402
from word_predictor.exporter.folder import export_run  # noqa: E402
from word_predictor.adaptation.segments import split as cut  # noqa: E402
from word_predictor.exporter.onnx import hidden_width, onnx_direction  # noqa: E402
from word_predictor.predictor import Predictor  # noqa: E402
from word_predictor.runtime import load  # noqa: E402

TOLERANCE = 1e-4
# The export reads weights, not a backend's graph: CI checks the default kinds on JAX too.
KIND_PARAMETERS = [
    pytest.param(kind, marks=pytest.mark.backend) if kind in DEFAULT_KINDS else kind for kind in KINDS
]


@pytest.mark.parametrize("kind", KIND_PARAMETERS)
def test_onnx_runtime_gives_the_keras_log_probabilities_on_real_text(kind, tmp_path):
    run = make_run(KINDS[kind])
    export_run(run, "onnx", tmp_path / "exported")
    exported = load(tmp_path / "exported")
    keras_reader = Predictor.from_run(run).reader
    split = real_split(run.vocabulary, 120)
    # Contexts of several lengths (shorter than a window too), each read from the start.
    contexts = [split.ids[:length] for length in (1, 3, 7, 20, 60)]
    keras_logits, keras_state = keras_reader.start(contexts)
    onnx_logits, onnx_state = exported.reader.start(contexts)
    assert np.abs(log_softmax(keras_logits) - log_softmax(onnx_logits)).max() < TOLERANCE
    if run.config.context == "full":  # the carried state too: (batch, units) per state
        for ours, theirs in zip(keras_state, onnx_state):
            assert np.abs(np.asarray(ours) - theirs).max() < TOLERANCE
    # Then one token more for each, from the state each reader returned.
    next_ids = split.ids[100 : 100 + len(contexts)]
    keras_next, _ = keras_reader.advance(keras_state, next_ids)
    onnx_next, _ = exported.reader.advance(onnx_state, next_ids)
    assert np.abs(log_softmax(keras_next) - log_softmax(onnx_next)).max() < TOLERANCE


@pytest.mark.parametrize("kind", KIND_PARAMETERS)
def test_the_graph_s_hidden_output_is_what_the_keras_hidden_view_gives(kind, tmp_path):
    run = make_run(KINDS[kind])
    export_run(run, "onnx", tmp_path / "exported")
    keras_reader = Predictor.from_run(run).hidden_reader()
    onnx_reader = load(tmp_path / "exported").hidden_reader()
    split = real_split(run.vocabulary, 120)
    contexts = [split.ids[:length] for length in (1, 3, 7, 20, 60)]
    keras_joined, keras_state = keras_reader.start(contexts)
    onnx_joined, onnx_state = onnx_reader.start(contexts)
    next_ids = split.ids[100 : 100 + len(contexts)]
    keras_next, _ = keras_reader.advance(keras_state, next_ids)
    onnx_next, _ = onnx_reader.advance(onnx_state, next_ids)
    for ours, theirs in ((keras_joined, onnx_joined), (keras_next, onnx_next)):
        keras_logits, keras_hidden = cut(ours, len(run.vocabulary))
        onnx_logits, onnx_hidden = cut(theirs, len(run.vocabulary))
        assert keras_hidden.shape == onnx_hidden.shape == (len(contexts), hidden_width(run.config))
        assert np.abs(keras_hidden - onnx_hidden).max() < TOLERANCE and np.abs(keras_hidden).max() > 0
        assert np.abs(log_softmax(keras_logits) - log_softmax(onnx_logits)).max() < TOLERANCE


def test_lstm_gates_are_reordered_from_keras_to_onnx():
    # Keras stacks an LSTM's gates i, f, c, o; ONNX wants i, o, f, c.
    units, gates = 2, ["i", "f", "c", "o"]
    kernel = np.concatenate([np.full((3, units), gates.index(g), np.float32) for g in gates], axis=1)
    w, r, b = onnx_direction("lstm", [kernel, np.zeros((units, 4 * units), np.float32), np.arange(8.0)])
    assert w[:, 0].tolist() == [0, 0, 3, 3, 1, 1, 2, 2]  # i, o, f, c
    assert b.tolist() == [0, 1, 6, 7, 2, 3, 4, 5] + [0] * 8  # Keras' one bias in Wb, Rb zero
