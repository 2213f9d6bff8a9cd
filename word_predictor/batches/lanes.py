"""Ids -> lanes for full-context training: the running text, read once per epoch,
with the recurrent state carried from one chunk to the next.

A split's segments are cut into chunks of `bptt` (input, next token) pairs; a
chunk never crosses a segment edge (the segment's last chunk is padded, with
weight 0). The chunks, in text order, are dealt into `lanes` (the batch size)
contiguous stretches, one per lane; batch t is chunk t of every lane:

    text:    | segment A ..................... | segment B .................... |
    chunks:  [a0][a1][a2][a3][a4][a5][a6][a7-] [b0][b1][b2][b3][b4][b5][b6][b7-]
                                         padded ^                              ^
    lane 0:  [a0][a1][a2][a3]        batch 0 = (a0, a4, b0, b4)
    lane 1:  [a4][a5][a6][a7-]       batch 1 = (a1, a5, b1, b5)
    lane 2:  [b0][b1][b2][b3]        ...
    lane 3:  [b4][b5][b6][b7-]       R marks a reset:
    resets:   R   .   .   .          a lane's first chunk (the epoch start) and
                                     the first chunk of every segment

Within a lane, each chunk continues the text of the one before, so the state a lane
ends a batch with is the right start for its next batch (gradients stop at the chunk
edge: truncated backpropagation through time). The state is zeroed where a lane starts
reading (each epoch's first batch) and where it crosses into another segment, which is
unrelated text. Lanes are padded with empty chunks (weight 0) to the same length.
For scoring, `keep_segments_whole=True` gives each segment to one lane (the longest
first, to the shortest lane): every token is predicted from all the text before it in
its segment, and the figures equal a single-lane pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from word_predictor.backend import keras
from word_predictor.corpus.splits import Split


@dataclass
class LaneLayout:
    """Where each chunk of each lane starts in the id array, (lanes, steps) each."""

    starts: np.ndarray  # int64: position of the chunk's first input token
    lengths: np.ndarray  # int64: (input, target) pairs in the chunk, 0 for padding
    resets: np.ndarray  # bool: the state is zeroed before this chunk

    @property
    def lanes(self) -> int:
        return self.starts.shape[0]

    @property
    def steps(self) -> int:
        return self.starts.shape[1]

    @property
    def targets(self) -> int:
        return int(self.lengths.sum())


def _segment_chunks(start: int, end: int, bptt: int) -> np.ndarray:
    """(chunks, 2): first input position and pair count of each chunk of one segment."""
    pairs = end - start - 1
    if pairs < 1:
        return np.zeros((0, 2), np.int64)
    firsts = np.arange(start, start + pairs, bptt, dtype=np.int64)
    return np.stack([firsts, np.minimum(bptt, start + pairs - firsts)], axis=1)


def lay_out(bounds: np.ndarray, bptt: int, lanes: int, keep_segments_whole: bool = False) -> LaneLayout:
    """Deal the chunks of every segment into `lanes` lanes (see the module docstring)."""
    per_segment = [_segment_chunks(int(s), int(e), bptt) for s, e in np.asarray(bounds).reshape(-1, 2)]
    per_segment = [chunks for chunks in per_segment if len(chunks)]
    if keep_segments_whole:
        lane_chunks: list[list[np.ndarray]] = [[] for _ in range(lanes)]
        lane_lengths = [0] * lanes
        for chunks in sorted(per_segment, key=len, reverse=True):
            lane = int(np.argmin(lane_lengths))
            lane_chunks[lane].append(_with_resets(chunks, first_reset=True))
            lane_lengths[lane] += len(chunks)
        rows = [np.concatenate(c) if c else np.zeros((0, 3), np.int64) for c in lane_chunks]
    else:
        everything = (
            np.concatenate([_with_resets(c, first_reset=True) for c in per_segment])
            if per_segment
            else np.zeros((0, 3), np.int64)
        )
        per_lane = -(-len(everything) // lanes)  # ceil: pad rather than drop text
        rows = [everything[i * per_lane : (i + 1) * per_lane].copy() for i in range(lanes)]
        for row in rows:
            if len(row):
                row[0, 2] = 1  # a lane's first chunk starts from a zero state
    steps = max((len(r) for r in rows), default=0)
    starts = np.zeros((lanes, steps), np.int64)
    lengths = np.zeros((lanes, steps), np.int64)
    resets = np.ones((lanes, steps), bool)
    for lane, row in enumerate(rows):
        starts[lane, : len(row)] = row[:, 0]
        lengths[lane, : len(row)] = row[:, 1]
        resets[lane, : len(row)] = row[:, 2].astype(bool)
    return LaneLayout(starts, lengths, resets)


def _with_resets(chunks: np.ndarray, first_reset: bool) -> np.ndarray:
    flags = np.zeros((len(chunks), 1), np.int64)
    flags[0] = int(first_reset)
    return np.concatenate([chunks, flags], axis=1)


def gather_step(ids: np.ndarray, layout: LaneLayout, step: int, bptt: int):
    """Batch `step`: tokens, targets and weights (lanes, bptt), and resets (lanes,).

    Positions past a chunk's length (padding) read token 0 and weigh 0.
    """
    offsets = np.arange(bptt, dtype=np.int64)
    positions = layout.starts[:, step, None] + offsets  # (lanes, bptt)
    valid = offsets < layout.lengths[:, step, None]
    positions = np.where(valid, positions, 0)
    tokens = np.where(valid, ids[positions], 0).astype(np.int32)
    targets = np.where(valid, ids[np.where(valid, positions + 1, 0)], 0).astype(np.int32)
    return tokens, targets, valid.astype(np.float32), layout.resets[:, step].astype(np.float32)


class LaneBatches(keras.utils.PyDataset):
    """Batches of ({"tokens", "reset"}, targets, weights) in lane order, for Model.fit.

    Never shuffled: batch t + 1 continues batch t's text in every lane. Every epoch
    reads the same stream and starts with every lane reset.
    """

    def __init__(self, split: Split, *, bptt: int, lanes: int):
        super().__init__()
        self.ids = split.ids
        self.bptt = bptt
        self.layout = lay_out(split.bounds, bptt, lanes)
        self.batch_size = lanes

    @property
    def examples_per_epoch(self) -> int:
        return self.layout.lanes * self.layout.steps  # chunks, padding included

    @property
    def targets_per_epoch(self) -> int:
        return self.layout.targets

    def __len__(self) -> int:
        return self.layout.steps

    @property
    def whole_batches(self) -> int:
        return len(self)  # every batch has all its lanes

    def __getitem__(self, step: int):
        return self.part(step)

    def part(self, step: int, rows: slice | None = None):
        """Lanes `rows` of batch `step` (a process's share of it, training on several; None: all)."""
        layout = self.layout
        if rows is not None:
            layout = LaneLayout(layout.starts[rows], layout.lengths[rows], layout.resets[rows])
        tokens, targets, weights, resets = gather_step(self.ids, layout, step, self.bptt)
        return {"tokens": tokens, "reset": resets}, targets, weights
