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

`WindowContext` is this layout behind the interface that word_predictor.batches
describes (full_context.py is the other one); `WindowReader` answers predict, evaluate
and generate by re-reading the last window.
"""

from __future__ import annotations

import math

import numpy as np

from word_predictor.backend import keras
from word_predictor.batches.kinds import WindowKind
from word_predictor.config import SettingError
from word_predictor.corpus.splits import Split, window_block_size
from word_predictor.model.factory import build_model

# Keras-free (scoring/reading.py), so word_predictor.runtime reads windows the same way; callers import them here too
from word_predictor.scoring.reading import (  # noqa: F401
    WindowIndex,
    WindowReader,
    crop_context,
    gather_windows,
    window_starts,
)


class Shuffle:
    """A pseudo-random permutation of [0, n), computed for any position on demand.

    A four-round Feistel network on the bits of the position, walking the cycle
    until the value falls inside [0, n), is a bijection: every number appears once
    per epoch, and nothing of size n is ever held. The keys come from (seed, epoch)
    alone, so a resumed run sees the same order.
    """

    _MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)

    def __init__(self, n: int, seed: int, epoch: int):
        self.n = n
        bits = max(2, int(n - 1).bit_length())
        self.half = (bits + 1) // 2
        self.mask = np.uint64((1 << self.half) - 1)
        self.keys = np.random.default_rng([seed, epoch]).integers(0, 2**62, size=4, dtype=np.uint64)

    def _once(self, x: np.ndarray) -> np.ndarray:
        half = np.uint64(self.half)
        left, right = x >> half, x & self.mask
        for key in self.keys:
            mixed = (right ^ key) * self._MULTIPLIER  # wraps modulo 2**64, as intended
            left, right = right, left ^ ((mixed >> np.uint64(29)) & self.mask)
        return (left << half) | right

    def __getitem__(self, positions: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            values = self._once(np.asarray(positions, dtype=np.uint64))
            outside = values >= self.n
            while outside.any():
                values[outside] = self._once(values[outside])
                outside = values >= self.n
        return values.astype(np.int64)


class WindowBatches(keras.utils.PyDataset):
    """Batches of (inputs, targets[, weights]) for Model.fit, reshuffled each epoch.

    inputs: (batch, window_size) int32; targets: (batch, window_size) for "all", (batch,) for "last".
    With `last_only=True` and targets="all", a (batch, window_size) weight of 0 ... 0 1
    scores only the final position: the same next-word-after-a-full-window task as
    targets="last", predict and evaluate, so validation figures compare across runs.
    Neither the windows nor their order are held in memory: a batch computes its
    window numbers (shuffled or not) and their starts.
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
        self.index = WindowIndex(split.bounds, window_size)
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
        return self.index.size

    @property
    def targets_per_window(self) -> int:
        return self.window_size if self.targets == "all" and not self.last_only else 1

    @property
    def examples_per_epoch(self) -> int:
        return self.windows

    @property
    def targets_per_epoch(self) -> int:
        return self.windows * self.targets_per_window

    def _make_order(self) -> Shuffle | None:
        return Shuffle(self.windows, self.seed, self.epoch) if self.shuffle and self.windows else None

    def __len__(self) -> int:
        return math.ceil(self.windows / self.batch_size)

    def __getitem__(self, index: int):
        return self.part(index)

    @property
    def whole_batches(self) -> int:
        return len(self)  # a share of the short last batch is padded (see part)

    def part(self, index: int, rows: slice | None = None):
        """Rows `rows` of batch `index` (a process's share of it, training on several;
        None: the whole batch, the last one maybe short).

        A share always comes with weights and keeps its size past the last window: the
        extra rows repeat that window with weight 0, so the loss (the weighted mean) and
        its gradient are those of the short batch one device would train on.
        """
        first = index * self.batch_size
        span = rows or slice(0, self.batch_size)
        positions = np.arange(first + span.start, min(first + span.stop, self.windows))
        real = len(positions)
        if rows is not None:
            positions = np.concatenate([positions, np.full(span.stop - span.start - real, self.windows - 1)])
        numbers = positions if self._order is None else self._order[positions]
        window = gather_windows(self.ids, self.index.starts(numbers), self.window_size)  # (batch, window_size + 1)
        inputs = window[:, :-1]
        targets = window[:, -1] if self.targets == "last" else window[:, 1:]
        if self.last_only and self.targets == "all":
            weights = self._weights[: len(positions)]  # (batch, window_size): the last position only
        elif rows is not None:
            weights = np.ones(targets.shape, np.float32)
        else:
            return inputs, targets
        if real < len(positions):  # a share's padding rows count for nothing
            weights = weights.copy()
            weights[real:] = 0.0
        return inputs, targets, weights

    def on_epoch_end(self):
        self.epoch += 1
        self._order = self._make_order()


class WindowContext(WindowKind):
    """Windows of `window_size` tokens, shuffled; see word_predictor.batches."""

    def __init__(self, config):
        super().__init__(config)
        self.min_tokens = config.window_size + 1

    def block_size(self, tokens: int) -> int:
        return window_block_size(self.config.window_size)(tokens)

    def check_training_split(self, split: Split) -> None:
        if WindowIndex(split.bounds, self.config.window_size).size == 0:
            raise SettingError(
                "the training split holds no window of {size} tokens and the token after it; add text or lower "
                "{window_size}", size=self.config.window_size,
            )

    def training_model(self, facts, on_gpu: bool, use_cudnn="auto"):
        # On a CPU, windows of fixed length with the time loop unrolled train faster
        # (benchmarks/training_graph.py); on a GPU the open-length model keeps cuDNN.
        return build_model(self.config, facts, "training", fixed_length=not on_gpu, use_cudnn=use_cudnn)

    def training_batches(self, split: Split, epoch: int) -> WindowBatches:
        c = self.config
        return WindowBatches(
            split, window_size=c.window_size, batch_size=c.batch_size, targets=c.targets, shuffle=True,
            seed=c.seed, epoch=epoch,
        )  # fmt: skip

    def has_validation_targets(self, split: Split) -> bool:
        return WindowIndex(split.bounds, self.config.window_size).size > 0

    def reader(self, inference_model) -> WindowReader:
        return WindowReader(inference_model, self.config)
