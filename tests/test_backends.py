"""The model and training code use keras and keras.ops only, so other Keras backends run them.

These run where the backend's package is installed (torch comes with
benchmarks/requirements.txt); CI installs TensorFlow only and skips them.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY_FLAGS, TINY_TEXT

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_trains_and_predicts_on_another_backend(backend, tmp_path):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(TINY_TEXT * 20, encoding="utf-8")
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(REPO)}

    def run(*args):
        return subprocess.run([sys.executable, "-m", *args], env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=300)  # fmt: skip

    trained = run("word_predictor.train", "--corpus", str(corpus), "--run-name", "r", *TINY_FLAGS)
    assert trained.returncode == 0, trained.stderr[-2000:]
    config = json.loads((tmp_path / "logs" / "r" / "config.json").read_text())
    assert config["versions"]["backend"] == backend
    predicted = run("word_predictor.predict", "--json", "the cat sat on the")
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    assert len(json.loads(predicted.stdout)["predictions"]) == 5
