"""Exported ONNX folders made without Keras, for the runtime's tests (which CI also runs
where Keras, TensorFlow and JAX are not installed): random weights in the shapes Keras
gives them (export.weights' layout), written by the exporter's own write_export."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.exporter.kinds import vocabulary_of
from word_predictor.config import Config
from word_predictor.exporter.folder import write_export

GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}


def random_weights(config: Config, vocabulary: int, seed: int = 0) -> dict:
    """Weights of `config`'s model over a vocabulary of `vocabulary` tokens."""
    rng = np.random.default_rng(seed)
    draw = lambda *shape: rng.normal(0, 0.4, shape).astype(np.float32)  # noqa: E731
    units, gates = config.units, GATES[config.cell]
    weights = {}
    if not config.one_hot:
        weights["embedding"] = [draw(vocabulary, config.embedding_dim)] + (
            [draw(vocabulary)] if config.tie_weights else []
        )
    features = vocabulary if config.one_hot else config.embedding_dim
    directions = 2 if config.bidirectional else 1
    for number in range(1, config.layers + 1):
        bias_shape = (2, gates * units) if config.cell == "gru" else (gates * units,)
        layer = [
            [draw(features, gates * units), draw(units, gates * units), draw(*bias_shape)]
            for _ in range(directions)
        ]
        weights[f"{config.cell}_{number}"] = layer if config.bidirectional else layer[0]
        features = units * directions
    if not config.tie_weights:
        weights["next_word"] = [draw(features, vocabulary), draw(vocabulary)]
    return weights


def make_folder(folder: Path, seed: int = 0, **settings) -> Path:
    """An exported ONNX folder of a tiny model of random weights; `settings` are Config's."""
    vocabulary = vocabulary_of(settings.get("level", "word"))
    config = Config(**{"units": 8, "embedding_dim": 4, **settings})
    write_export(config, vocabulary, random_weights(config, len(vocabulary), seed), "onnx", folder,
                 source={"run": None})  # fmt: skip
    return folder


KERAS_AND_BACKENDS = ("keras", "tensorflow", "jax", "jaxlib", "torch")


def import_blocker(modules=KERAS_AND_BACKENDS, why: str = "the runtime must not need it") -> str:
    """Python source that makes importing any of `modules` (by top-level name) fail with
    `why`: put before a child process's script, it shows what the script never imports."""
    return f"""
import importlib.abc, sys
class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {tuple(modules)!r}:
            raise ImportError(f"{{name}} is blocked: {why}")
sys.meta_path.insert(0, Blocked())
"""
