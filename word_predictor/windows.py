"""Ids -> windows and targets, made a batch at a time.

A window is `window_size` consecutive words; its target is the word after it.
With targets="all" every position of the window also predicts its own next word,
so one window trains `window_size` predictions (with 1..window_size words of context):

    ids:            w0  w1  w2  w3  w4  w5  w6 ...
    window 0:      [w0  w1  w2  w3  w4]
    targets="last":                     w5
    targets="all": [w1  w2  w3  w4  w5]
    window 1:          [w1  w2  w3  w4  w5] ...

Only the window starts are stored (one int64 per window); each batch gathers its
(batch, window_size + 1) slice of ids on demand, so memory is O(tokens) and the
one-hot or embedding lookup happens inside the model, per batch.
"""

from __future__ import annotations

import math

import numpy as np

from word_predictor.backend import keras
from word_predictor.corpus import Split
from word_predictor.text import UNKNOWN_ID, Vocabulary


def window_starts(bounds: np.ndarray, window_size: int) -> np.ndarray:
    """Start offsets of every window that fits, with its target, inside one segment.

    `bounds` is (segments, 2): each segment's [start, end) in the id array.
    """
    starts = [
        np.arange(start, end - window_size, dtype=np.int64)
        for start, end in np.asarray(bounds, dtype=np.int64).reshape(-1, 2)
        if end - start > window_size
    ]
    return np.concatenate(starts) if starts else np.zeros(0, np.int64)


def gather_windows(ids: np.ndarray, starts: np.ndarray, window_size: int) -> np.ndarray:
    """(n,) starts -> (n, window_size + 1) ids: the window and the word after it."""
    return ids[starts[:, None] + np.arange(window_size + 1)]


class WindowBatches(keras.utils.PyDataset):
    """Batches of (inputs, targets[, weights]) for Model.fit, reshuffled each epoch.

    inputs: (batch, chunk) int32; targets: (batch, chunk) for "all", (batch,) for "last".
    With `last_only=True` and targets="all", a (batch, chunk) weight of 0 ... 0 1
    scores only the final position: the same next-word-after-a-full-window task as
    targets="last", predict and evaluate, so validation figures compare across runs.
    """

    def __init__(
        self,
        split: Split,
        *,
        window_size: int,
        batch_size: int,
        targets: str,
        shuffle: bool,
        seed: int = 0,
        last_only: bool = False,
        epoch: int = 0,
    ):
        super().__init__()
        self.ids = split.ids
        self.starts = window_starts(split.bounds, window_size)
        self.window_size = window_size
        self.batch_size = batch_size
        self.targets = targets
        self.shuffle = shuffle
        self.seed = seed
        self.last_only = last_only and targets == "all"
        self.epoch = epoch
        self._weights = np.zeros((batch_size, window_size), np.float32)
        self._weights[:, -1] = 1.0
        self._order = self._make_order()

    @property
    def windows(self) -> int:
        return int(self.starts.size)

    @property
    def targets_per_window(self) -> int:
        return self.window_size if self.targets == "all" and not self.last_only else 1

    def _make_order(self) -> np.ndarray:
        if not self.shuffle:
            return self.starts
        # A function of (seed, epoch) alone, so a resumed run sees the same order.
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.starts)

    def __len__(self) -> int:
        return math.ceil(self.starts.size / self.batch_size)

    def __getitem__(self, index: int):
        starts = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        window = gather_windows(self.ids, starts, self.window_size)  # (batch, chunk + 1)
        inputs = window[:, :-1]
        if self.targets == "last":
            return inputs, window[:, -1]
        if self.last_only:
            return inputs, window[:, 1:], self._weights[: len(starts)]
        return inputs, window[:, 1:]

    def on_epoch_end(self):
        self.epoch += 1
        self._order = self._make_order()


def context_ids(words: list[str], vocabulary: Vocabulary, window_size: int, pad: bool) -> np.ndarray:
    """The last `window_size` words as ids, shape (1, n).

    A shorter context is left-padded with the unknown id when `pad` is set (models
    trained on full windows only); otherwise the network simply reads fewer words,
    which is what a targets="all" model learnt at a window's earlier positions.
    """
    ids = vocabulary.encode(words[-window_size:])
    if pad and ids.size < window_size:
        ids = np.concatenate([np.full(window_size - ids.size, UNKNOWN_ID, np.int32), ids])
    return ids[None, :]
