"""What the server answers with: one predictor-like object, chosen by the kind of folder.

    ENGINES["run"]    a training run folder -> the Keras Predictor
    ENGINES["model"]  an exported folder -> the ONNX runtime's predictor (not built yet)

The server talks only to the Predictor interface (suggest_many, complete_many,
complete_word, generate, tokens, join, config, vocabulary) and to `score_text`, so an
exported folder plugs in by one entry here.
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
    kind: str  # a key of ENGINES
    source: Path  # the folder it was loaded from


def _load_run(path: Path):
    """A run folder -> the Keras Predictor (the backend must be chosen before this)."""
    from word_predictor.predictor import Predictor
    from word_predictor.rundir import load_run

    return Predictor.from_run(load_run(path))


def _load_exported(path: Path):
    raise EngineUnavailable("exported models need the runtime from the export step, which is not installed")


ENGINES: dict[str, Callable[[Path], object]] = {"run": _load_run, "model": _load_exported}


def load(kind: str, path: Path) -> Engine:
    if kind not in ENGINES:
        raise ValueError(f"unknown engine {kind!r}; choose one of {', '.join(ENGINES)}")
    return Engine(ENGINES[kind](Path(path)), kind, Path(path))


def score_text(predictor, text: str) -> dict:
    """Perplexity and accuracies of the predictor on `text` (one segment), as evaluate scores
    a file; ValueError if the text has too few tokens to score any."""
    ids = np.asarray(predictor.vocabulary.encode(predictor.tokens(text)), np.int32)
    try:
        return score_run(predictor, Split.from_lengths(ids, [ids.size]))
    except NothingToScore:
        unit = predictor.vocabulary.tokenizer.unit
        raise ValueError(f"the text is too short to score: no {unit} has enough {unit}s before it") from None
