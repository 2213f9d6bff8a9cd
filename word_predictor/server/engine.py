"""What the server answers with: one Predictor and the engine that answers it, "keras" or
"runtime", as word_predictor.engines, the one mapping, chose it (serve.py asks it with the
command's --engine; `load` below, for a folder alone, asks for Keras on a run folder and the
runtime on an exported one).

The server talks only to the Predictor interface (suggest_many, complete_many,
generate, tokenize, join, config, vocabulary) and to `score_text`, so
both engines give the same answers through the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from word_predictor.corpus.splits import Split
from word_predictor.scoring.evaluate import NothingToScore, score_run


@dataclass
class Engine:
    predictor: object  # word_predictor.predictor.Predictor, or anything with its interface
    kind: str  # the engine that answers: "keras" or "runtime"
    source: Path  # the folder it was loaded from


def kind_of(path: Path) -> str:
    """"model" for an exported folder (it has a manifest), else "run": what the folder is."""
    from word_predictor.exporter.manifest import is_exported

    return "model" if is_exported(Path(path)) else "run"


def load(path: Path, kind: str | None = None) -> Engine:
    """The engine for `path`: `kind` ("keras" or "runtime") if given, else the runtime for an
    exported folder and Keras for a run folder; word_predictor.engines loads it."""
    from word_predictor import engines

    kind = kind or ("runtime" if kind_of(path) == "model" else "keras")
    answering, predictor = engines.load_named(Path(path), kind)
    return Engine(predictor, answering, Path(path))


def score_text(predictor, text: str) -> dict:
    """Perplexity and accuracies of the predictor on `text` (one segment), as evaluate scores
    a file; ValueError if the text has too few tokens to score any."""
    ids = np.asarray(predictor.vocabulary.encode(predictor.tokenize(text)), np.int32)
    try:
        return score_run(predictor, Split.from_lengths(ids, [ids.size]))
    except NothingToScore:
        unit = predictor.vocabulary.tokenizer.unit
        raise ValueError(f"the text is too short to score: no {unit} has enough {unit}s before it") from None
