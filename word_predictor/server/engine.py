"""What the server answers with: one Predictor, its engine chosen by the kind of folder.

    ENGINES["keras"]    a training run folder -> the Predictor on the Keras model
    ENGINES["runtime"]  an exported ONNX folder (it has a manifest.json) -> the Predictor on
                        ONNX Runtime (word_predictor.runtime), Keras never loaded

(The command, serve.py, asks word_predictor.engines instead, which may answer a run folder
with the runtime too; an Engine's `kind` is the engine that answers, as engines.py names it.)

The server talks only to the Predictor interface (suggest_many, complete_many,
generate, tokenize, join, config, vocabulary) and to `score_text`, so
both engines give the same answers through the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from word_predictor.corpus.splits import Split
from word_predictor.scoring.evaluate import NothingToScore, score_run


class EngineUnavailable(ValueError):
    """The folder needs an engine this install does not have."""


@dataclass
class Engine:
    predictor: object  # word_predictor.predictor.Predictor, or anything with its interface
    kind: str  # the engine that answers: "keras" or "runtime" (a key of ENGINES)
    source: Path  # the folder it was loaded from


def _load_run(path: Path):
    """A run folder -> the Keras Predictor (the backend must be chosen before this)."""
    from word_predictor.predictor import Predictor
    from word_predictor.rundir import load_run

    return Predictor.from_run(load_run(path))


def _load_exported(path: Path):
    try:
        from word_predictor.runtime import load as load_exported
    except ImportError as error:
        raise EngineUnavailable(f"serving an exported folder needs onnxruntime ({error.name} is missing): "
                                "pip install -e '.[runtime]'") from None  # fmt: skip
    return load_exported(path)


ENGINES: dict[str, Callable[[Path], object]] = {"keras": _load_run, "runtime": _load_exported}


def kind_of(path: Path) -> str:
    """"model" for an exported folder (it has a manifest), else "run": what the folder is."""
    from word_predictor.exporter.manifest import is_exported

    return "model" if is_exported(Path(path)) else "run"


def load(path: Path, kind: str | None = None) -> Engine:
    """The engine for `path`; `kind` (a key of ENGINES) if given, else the runtime for an
    exported folder and Keras for a run folder."""
    kind = kind or ("runtime" if kind_of(path) == "model" else "keras")
    if kind not in ENGINES:
        raise ValueError(f"unknown engine {kind!r}; choose one of {', '.join(ENGINES)}")
    return Engine(ENGINES[kind](Path(path)), kind, Path(path))


def score_text(predictor, text: str) -> dict:
    """Perplexity and accuracies of the predictor on `text` (one segment), as evaluate scores
    a file; ValueError if the text has too few tokens to score any."""
    ids = np.asarray(predictor.vocabulary.encode(predictor.tokenize(text)), np.int32)
    try:
        return score_run(predictor, Split.from_lengths(ids, [ids.size]))
    except NothingToScore:
        unit = predictor.vocabulary.tokenizer.unit
        raise ValueError(f"the text is too short to score: no {unit} has enough {unit}s before it") from None
