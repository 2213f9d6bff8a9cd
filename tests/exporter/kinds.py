"""What the export and runtime tests share: every model kind the project trains, built tiny
with random weights (biases too, so a bias in the wrong place shows) and a vocabulary of
real text, the repository's own essays."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from word_predictor.config import Config, CorpusFacts
from word_predictor.corpus.splits import Split
from word_predictor.text import Vocabulary, tokenizer_for

REAL_TEXT = Path(__file__).resolve().parents[2] / "corpus" / "essays" / "02_making_bread_at_home.txt"

# name -> settings: the three cells, stacked, bidirectional (window), one-hot or embedded,
# tied weights (at one size, and at two through a projection), word and char level, window and
# full context.
KINDS = {
    "lstm-window": {},
    "gru-window-targets-last": {"cell": "gru", "targets": "last"},
    "simple_rnn-window": {"cell": "simple_rnn"},
    "lstm-bidirectional-stacked-one-hot": {
        "bidirectional": True,
        "targets": "last",
        "layers": 2,
        "one_hot": True,
    },
    "gru-bidirectional": {"cell": "gru", "bidirectional": True, "targets": "last"},
    "lstm-tied-window": {"tie_weights": True, "embedding_dim": 8},
    "lstm-full-stacked": {"context": "full", "layers": 2},
    # tied at different sizes (embedding 4, units 8): through the projection, read in stages
    "gru-full-tied-projected": {"cell": "gru", "context": "full", "tie_weights": True},
    "simple_rnn-full-one-hot": {"cell": "simple_rnn", "context": "full", "one_hot": True},
    "lstm-char-full": {"level": "char", "context": "full"},
    "gru-char-window": {"cell": "gru", "level": "char", "window_size": 12},
}
DEFAULT_KINDS = ("lstm-window", "lstm-full-stacked")  # what train makes without flags, both contexts


def vocabulary_of(level: str, size: int = 30) -> Vocabulary:
    tokens = tokenizer_for(level, "unicode").tokens(REAL_TEXT.read_text(encoding="utf-8"))
    return Vocabulary.from_counts(Counter(tokens), 0, max_size=size, level=level)


def real_split(vocabulary: Vocabulary, tokens: int = 400) -> Split:
    """The first `tokens` tokens of the essay, in two segments."""
    ids = vocabulary.encode(vocabulary.tokenizer.tokens(REAL_TEXT.read_text(encoding="utf-8")))[:tokens]
    return Split.from_lengths(ids, [tokens // 2, tokens - tokens // 2])


def make_run(settings: dict, seed: int = 0):
    """A rundir.Run of one kind, untrained, every weight drawn at random."""
    from word_predictor.model import build_model
    from word_predictor.rundir import Run

    vocabulary = vocabulary_of(settings.get("level", "word"))
    config = Config(**{"units": 8, "embedding_dim": 4, **settings})
    facts = CorpusFacts(vocabulary_size=len(vocabulary))
    model = build_model(config, facts)
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.4, w.shape).astype(np.float32) for w in model.get_weights()])
    return Run(None, config, vocabulary, model, {}, facts)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
