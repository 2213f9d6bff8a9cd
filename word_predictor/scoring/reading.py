"""Which targets a split scores, and the window reader: the parts of the readers
(word_predictor.batches) that need no Keras. The window reader asks its model only for
`predict_on_batch`, so a Keras inference view and word_predictor.runtime's ONNX Runtime
step read windows by one rule.
"""

from __future__ import annotations

import numpy as np

from word_predictor.corpus.splits import Split
from word_predictor.text.vocabulary import UNKNOWN_ID


def window_starts(bounds: np.ndarray, window_size: int) -> np.ndarray:
    """Start offsets of every window that fits, with its target, inside one segment.

    `bounds` is (segments, 2): each segment's [start, end) in the id array. One int64 a
    window: for a split of any size, ask WindowIndex (or window_start_batches) instead.
    """
    index = WindowIndex(bounds, window_size)
    return index.starts(np.arange(index.size, dtype=np.int64))


class WindowIndex:
    """Window number -> start offset, from the segment bounds alone.

    Numbers count the windows segment by segment; memory is one entry per segment,
    whatever the number of windows (a corpus of 100M words has 100M windows).
    """

    def __init__(self, bounds: np.ndarray, window_size: int):
        bounds = np.asarray(bounds, dtype=np.int64).reshape(-1, 2)
        counts = np.maximum(bounds[:, 1] - bounds[:, 0] - window_size, 0)
        self.first = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)  # each segment's first window number
        self.segment_starts = bounds[:, 0]
        self.size = int(self.first[-1])

    def starts(self, numbers: np.ndarray) -> np.ndarray:
        # The last segment whose first number is <= n; segments without a window share
        # their first number with the next one and are skipped by side="right".
        segment = np.searchsorted(self.first, numbers, side="right") - 1
        return self.segment_starts[segment] + (numbers - self.first[segment])


def window_start_batches(bounds: np.ndarray, window_size: int, batch_size: int):
    """window_starts in order, `batch_size` at a time: memory bounded by the batch, not the split."""
    index = WindowIndex(bounds, window_size)
    for begin in range(0, index.size, batch_size):
        yield index.starts(np.arange(begin, min(begin + batch_size, index.size), dtype=np.int64))


def gather_windows(ids: np.ndarray, starts: np.ndarray, window_size: int) -> np.ndarray:
    """(n,) starts -> (n, window_size + 1) ids: the window and the word after it."""
    return ids[starts[:, None] + np.arange(window_size + 1)]


def crop_context(ids: np.ndarray, window_size: int, pad: bool) -> np.ndarray:
    """The last `window_size` ids of a context, shape (n,).

    A shorter context is left-padded with the unknown id when `pad` is set (models
    trained on full windows only); otherwise the network simply reads fewer words,
    which is what a targets="all" model learnt at a window's earlier positions.
    """
    ids = np.asarray(ids, dtype=np.int32)[-window_size:]
    if pad and ids.size < window_size:
        ids = np.concatenate([np.full(window_size - ids.size, UNKNOWN_ID, np.int32), ids])
    return ids


def run_grouped(model, contexts: list[np.ndarray]) -> np.ndarray:
    """Logits of the next token after each context, (batch, vocabulary) float32.

    Contexts of one length go through the model together; lengths differ only
    for contexts shorter than a window.
    """
    lengths = np.array([c.size for c in contexts])
    result = None
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        logits = np.asarray(model.predict_on_batch(np.stack([contexts[i] for i in rows])), dtype=np.float32)
        if result is None:
            result = np.empty((len(contexts), logits.shape[-1]), np.float32)
        result[rows] = logits
    return result


class WindowReader:
    """Next-token logits from the last `window_size` tokens of a context.

    The state of a context is just its last window, so advancing by a token
    re-reads the window (the price of a fixed window: generation costs
    window_size steps per token).
    """

    def __init__(self, model, config):
        self.model = model  # the inference view: (batch, time) -> (batch, vocabulary)
        self.window_size = config.window_size
        self.pad = config.targets == "last"

    def start(self, contexts: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Non-empty contexts of ids -> (logits (batch, vocabulary), state)."""
        state = [crop_context(c, self.window_size, self.pad) for c in contexts]
        return run_grouped(self.model, state), state

    @staticmethod
    def select(state: list[np.ndarray], rows: np.ndarray) -> list[np.ndarray]:
        """The state of contexts `rows` (repeats allowed), as a beam keeps its best rows."""
        return [state[row] for row in rows]

    def advance(self, state: list[np.ndarray], next_ids: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Append one token to each context -> (logits of the token after it, state)."""
        state = [crop_context(np.append(c, t), self.window_size, self.pad) for c, t in zip(state, next_ids)]
        return run_grouped(self.model, state), state

    def scored(self, split: Split, batch_size: int = 1024):
        """(logits (n, vocabulary), targets (n,)) for every token with a full window before it."""
        for starts in window_start_batches(split.bounds, self.window_size, batch_size):
            window = gather_windows(split.ids, starts, self.window_size)
            yield np.asarray(self.model.predict_on_batch(window[:, :-1]), dtype=np.float32), window[:, -1]


def pair_counts(split: Split) -> np.ndarray:
    """(segments,) how many (input, next token) pairs each segment of `split` holds."""
    return np.diff(np.asarray(split.bounds, np.int64).reshape(-1, 2), axis=1).ravel() - 1
