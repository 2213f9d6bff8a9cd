"""Choosing the Keras backend, and the project running on each one that is installed.

The model and training code use keras and keras.ops only, so every backend runs them.
Tests for a backend whose package is missing skip (CI has TensorFlow in one
environment, with torch from benchmarks/requirements.txt, and JAX without TensorFlow
in another).
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import TINY_FLAGS, TINY_TEXT
from word_predictor import backend

pytestmark = pytest.mark.backend

REPO = Path(__file__).resolve().parents[1]
INSTALLED = [name for name in backend.BACKENDS if importlib.util.find_spec(name) is not None]


def python(code: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter, KERAS_BACKEND unset unless given in `env`."""
    environment = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    environment.update(PYTHONPATH=str(REPO), **env)
    return subprocess.run([sys.executable, "-c", code, *args], env=environment, cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip


def test_importing_the_backend_module_does_not_load_keras():
    shown = python("import sys, word_predictor.backend; print('keras' in sys.modules)")
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert shown.stdout.strip() == "False"


CHOOSE_THEN_IMPORT = """
import argparse, sys
from word_predictor import backend
parser = argparse.ArgumentParser()
backend.add_backend_argument(parser)
args = parser.parse_args(sys.argv[1:])
backend.select(args.backend)
from word_predictor.backend import keras
print(keras.backend.backend())
"""


@pytest.mark.slow
@pytest.mark.parametrize("name", INSTALLED)
def test_backend_flag_chooses_the_backend_before_keras_loads(name):
    # Whatever the environment asks for, the flag wins.
    other = next(b for b in backend.BACKENDS if b != name)
    chosen = python(CHOOSE_THEN_IMPORT, "--backend", name, KERAS_BACKEND=other)
    assert chosen.returncode == 0, chosen.stderr[-2000:]
    assert chosen.stdout.strip().splitlines()[-1] == name


def test_backend_flag_defaults_to_the_environment_then_tensorflow(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    parser = argparse.ArgumentParser()
    backend.add_backend_argument(parser)
    assert parser.parse_args([]).backend == "jax"
    monkeypatch.delenv("KERAS_BACKEND")
    parser = argparse.ArgumentParser()
    backend.add_backend_argument(parser)
    assert parser.parse_args([]).backend == "tensorflow"
    with pytest.raises(SystemExit):
        parser.parse_args(["--backend", "theano"])
    assert "KERAS_BACKEND" in parser.format_help()


def test_a_second_backend_in_one_process_is_refused(monkeypatch):
    from word_predictor.backend import keras  # loaded here with the suite's backend

    current = keras.backend.backend()
    monkeypatch.setenv("KERAS_BACKEND", current)  # select() sets it; keep the suite's value
    assert backend.select(current) == current
    other = next(name for name in backend.BACKENDS if name != current)
    with pytest.raises(ValueError, match=f"already loaded with the {current} backend") as error:
        backend.select(other)
    assert "\n" not in str(error.value)


def test_an_unknown_backend_names_the_choices():
    with pytest.raises(ValueError, match="choose one of tensorflow, jax, torch"):
        backend.select("numpy")


def test_precision_sets_the_dtype_policy_and_refuses_unknown_names():
    from word_predictor.backend import keras

    try:
        backend.apply_precision("mixed_bfloat16")
        layer = keras.layers.Dense(2)
        assert (layer.compute_dtype, layer.variable_dtype) == ("bfloat16", "float32")
        with pytest.raises(ValueError, match="choose one of float32, mixed_bfloat16, mixed_float16"):
            backend.apply_precision("float8")
    finally:
        backend.apply_precision("float32")
    assert keras.layers.Dense(2).compute_dtype == "float32"


def test_cudnn_is_left_out_only_where_it_cannot_run_bfloat16():
    from word_predictor.backend import keras

    on_jax = keras.backend.backend() == "jax"
    assert backend.use_cudnn("mixed_bfloat16") == (False if on_jax else "auto")
    assert backend.use_cudnn("float32") == backend.use_cudnn("mixed_float16") == "auto"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["torch", "jax"])
def test_trains_predicts_and_evaluates_on_another_backend(name, tmp_path):
    if name not in INSTALLED:
        pytest.skip(f"{name} is not installed")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(TINY_TEXT * 20, encoding="utf-8")
    env = {**os.environ, "KERAS_BACKEND": name, "PYTHONPATH": str(REPO)}

    def run(*args):
        return subprocess.run([sys.executable, "-m", *args], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=300, check=False)  # fmt: skip

    trained = run(
        "word_predictor.train", "--corpus", str(corpus), "--run-name", "r", "--histograms", *TINY_FLAGS
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    run_dir = tmp_path / "logs" / "r"
    config = json.loads((run_dir / "config.json").read_text())
    assert config["versions"]["backend"] == name and name in config["versions"]
    # JAX keeps its compiled steps under the logdir's cache, for a quicker next start
    assert bool(list((tmp_path / "logs" / ".cache" / "jax").glob("*"))) == (name == "jax")
    predicted = run("word_predictor.predict", "--json", "the cat sat on the")
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    assert len(json.loads(predicted.stdout)["predictions"]) == 5
    evaluated = run("word_predictor.evaluate", "--json")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert json.loads(evaluated.stdout)["perplexity"] > 1

    # TensorBoard's reader finds the figures this backend logged, gradient norms included.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "train"), size_guidance={"tensors": 0})
    events.Reload()
    tags = set(events.Tags()["tensors"])
    assert {"epoch_loss", "batch_loss", "gradient_norm/global"} <= tags
    assert [event.step for event in events.Tensors("epoch_loss")] == [0, 1]
