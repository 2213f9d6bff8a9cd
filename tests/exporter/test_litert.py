"""LiteRT and SavedModel exports against Keras, on TensorFlow (which converts them): the LiteRT
interpreter (ai-edge-litert) and the reloaded SavedModel give Keras' next-token
log-probabilities within 1e-4 on real text, a full-context step with its states carried."""

import importlib.util
import json
import os

import numpy as np
import pytest

from tests.exporter.kinds import KINDS, log_softmax, make_run, real_split
from word_predictor.exporter.folder import export_run

TOLERANCE = 1e-4
on_tensorflow = pytest.mark.skipif(
    os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow"
    or importlib.util.find_spec("tensorflow") is None,
    reason="LiteRT and SavedModel exports are converted by TensorFlow, which this environment does not run",
)
needs_litert = pytest.mark.skipif(
    importlib.util.find_spec("ai_edge_litert") is None,
    reason="ai-edge-litert is not installed (requirements-export.txt)",
)


def _windows(run, count=16):
    split = real_split(run.vocabulary, 120)
    size = run.config.window_size
    return np.stack([split.ids[i : i + size] for i in range(0, count * 3, 3)])  # (count, window_size)


def _litert_step(folder):
    from ai_edge_litert.interpreter import Interpreter

    manifest = json.loads((folder / "manifest.json").read_text())
    return manifest, Interpreter(model_path=str(folder / manifest["model_file"])).get_signature_runner()


@on_tensorflow
@needs_litert
def test_litert_window_step_gives_the_keras_log_probabilities(tmp_path):
    run = make_run(KINDS["lstm-window"])
    export_run(run, "litert", tmp_path / "exported")
    manifest, step = _litert_step(tmp_path / "exported")
    assert manifest["inputs"]["tokens"]["shape"] == ["batch", run.config.window_size]
    windows = _windows(run)
    theirs = step(tokens=windows.astype(np.int32))[manifest["output"]["name"]]  # a batch of 16: resized
    ours = run.model.predict_on_batch(windows)
    assert np.abs(log_softmax(ours) - log_softmax(theirs)).max() < TOLERANCE


@on_tensorflow
@needs_litert
def test_litert_full_context_step_carries_its_states_token_by_token(tmp_path):
    run = make_run(KINDS["lstm-full-stacked"])
    export_run(run, "litert", tmp_path / "exported")
    manifest, step = _litert_step(tmp_path / "exported")
    ids = real_split(run.vocabulary, 60).ids[None, :30].astype(np.int32)
    states = [np.zeros((1, 8), np.float32) for _ in manifest["states"]]
    whole, *_ = run.model.predict_on_batch([ids, *states])  # (1, 30, vocabulary)
    for position in range(ids.shape[1]):
        out = step(
            tokens=ids[:, position : position + 1],
            **{s["name"]: v for s, v in zip(manifest["states"], states)},
        )
        states = [out[s["output"]] for s in manifest["states"]]
        theirs = out[manifest["output"]["name"]][:, 0]
        assert np.abs(log_softmax(whole[:, position]) - log_softmax(theirs)).max() < TOLERANCE


@on_tensorflow
def test_saved_model_gives_the_keras_log_probabilities(tmp_path):
    import tensorflow as tf

    run = make_run(KINDS["gru-full-tied-projected"])
    export_run(run, "saved_model", tmp_path / "exported")
    manifest = json.loads((tmp_path / "exported" / "manifest.json").read_text())
    serve = tf.saved_model.load(str(tmp_path / "exported" / manifest["model_file"])).signatures[
        "serving_default"
    ]
    ids = real_split(run.vocabulary, 60).ids[None, :40].astype(np.int32)
    state = np.zeros((1, 8), np.float32)
    out = serve(tokens=tf.constant(ids), **{manifest["states"][0]["name"]: tf.constant(state)})
    ours, ours_state = run.model.predict_on_batch([ids, state])
    assert np.abs(log_softmax(ours) - log_softmax(out[manifest["output"]["name"]].numpy())).max() < TOLERANCE
    assert np.abs(ours_state - out[manifest["states"][0]["output"]].numpy()).max() < TOLERANCE
