"""A split read in text order, a segment at a time, through a hidden view (hidden.py in
Keras, the exported graph's "hidden" output in the runtime): what the cache and dynamic
evaluation need, since each learns from what it has read before it reads on. The run's
own readers deal a split out in lanes side by side, which is faster but not in order.
The view is called as a Keras inference view is (`predict_on_batch`); nothing here
imports Keras.

    Segment: joined (n, vocabulary + units)  the logits and hidden state at n positions
             targets (n,), positions (n,)      the next token and its place in split.ids
             inputs, step_targets             what a dynamic step on the segment reads
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from word_predictor.batches.kinds import FullKind, WindowKind, kind_of
from word_predictor.config import STATES_PER_CELL
from word_predictor.corpus.splits import Split
from word_predictor.scoring.reading import gather_windows, window_start_batches


@dataclass
class Segment:
    joined: np.ndarray
    targets: np.ndarray
    positions: np.ndarray
    inputs: object
    step_targets: np.ndarray


class WindowSegments:
    """Every full window of the split in order, `length` windows a segment."""

    def __init__(self, view, config):
        self.view, self.window_size = view, config.window_size

    def segments(self, split: Split, length: int):
        for chosen in window_start_batches(split.bounds, self.window_size, length):
            window = gather_windows(split.ids, chosen, self.window_size)
            inputs, targets = window[:, :-1], window[:, -1]
            joined = np.asarray(self.view.predict_on_batch(inputs), np.float32)
            yield Segment(joined, targets, chosen + self.window_size, inputs, targets)


class StreamSegments:
    """Each segment of the split read by one lane, its state carried, `length` tokens at a time."""

    def __init__(self, view, config):
        self.view = view
        self.state_shapes = [config.units] * (config.layers * STATES_PER_CELL[config.cell])

    def segments(self, split: Split, length: int):
        for start, end in np.asarray(split.bounds, np.int64).reshape(-1, 2):
            state = [np.zeros((1, units), np.float32) for units in self.state_shapes]
            for begin in range(int(start), int(end) - 1, length):
                stop = min(begin + length, int(end) - 1)
                tokens = split.ids[begin:stop][None].astype(np.int32)
                targets = split.ids[begin + 1 : stop + 1].astype(np.int64)
                inputs = [tokens, *state]
                joined, *state = self.view.predict_on_batch(inputs)
                state = [np.asarray(s, np.float32) for s in state]
                positions = np.arange(begin + 1, stop + 1)
                yield Segment(np.asarray(joined, np.float32)[0], targets, positions, inputs, targets[None])


# How each context reads a split in order (the context objects answer the rest).
_SEGMENTS = {WindowKind: WindowSegments, FullKind: StreamSegments}


def segment_reader(view, config):
    return _SEGMENTS[type(kind_of(config))](view, config)


def split(joined: np.ndarray, vocabulary_size: int) -> tuple[np.ndarray, np.ndarray]:
    """A hidden view's output (.., vocabulary + units) -> (logits (.., vocabulary), hidden (.., units))."""
    joined = np.asarray(joined, np.float32)
    return joined[..., :vocabulary_size], joined[..., vocabulary_size:]
