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

Within a lane, each chunk continues the text of the one before, so the state a
lane ends a batch with is the right start for its next batch (gradients stop at
the chunk edge: truncated backpropagation through time). The state is zeroed
where a lane starts reading (each epoch's first batch) and where it crosses into
another segment, which is unrelated text. Lanes are padded with empty chunks
(weight 0) to the same length.

For scoring, `keep_segments_whole=True` gives each segment to one lane (the
longest first, to the shortest lane), so every token is predicted from all the
text before it in its segment: lanes then only run segments side by side, and
the figures equal a single-lane pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from word_predictor.backend import keras
from word_predictor.config import SettingError
from word_predictor.corpus.splits import Split
from word_predictor.model.build import build_model
from word_predictor.model.layers import STATES_PER_CELL
from word_predictor.scoring.reading import pair_counts


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

    @property
    def examples_per_epoch(self) -> int:
        return self.layout.lanes * self.layout.steps  # chunks, padding included

    @property
    def targets_per_epoch(self) -> int:
        return self.layout.targets

    def __len__(self) -> int:
        return self.layout.steps

    def __getitem__(self, step: int):
        tokens, targets, weights, resets = gather_step(self.ids, self.layout, step, self.bptt)
        return {"tokens": tokens, "reset": resets}, targets, weights


class StreamReader:
    """Next-token logits with the whole context read, the state carried explicitly.

    The inference view maps [tokens, *states] -> [logits, *states]; a context's
    state is its list of state rows, so advancing by a token costs one step.
    """

    def __init__(self, model, config, chunk: int = 256):
        self.model = model
        self.units = config.units
        self.state_count = config.layers * STATES_PER_CELL[config.cell]
        self.chunk = chunk  # tokens per call when reading a long context
        self._scoring_model = None

    def zero_state(self, batch: int) -> list[np.ndarray]:
        return [np.zeros((batch, self.units), np.float32) for _ in range(self.state_count)]

    def _step(self, tokens: np.ndarray, state: list[np.ndarray], model=None):
        """(batch, time) tokens from `state` -> (logits (batch, time, vocabulary), new state)."""
        logits, *state = (model or self.model).predict_on_batch([tokens.astype(np.int32), *state])
        return np.asarray(logits, dtype=np.float32), [np.asarray(s, dtype=np.float32) for s in state]

    def read(self, tokens: np.ndarray, state: list[np.ndarray]):
        """Read (batch, time) tokens in chunks -> (logits of the last position, state)."""
        logits = None
        for begin in range(0, tokens.shape[1], self.chunk):
            logits, state = self._step(tokens[:, begin : begin + self.chunk], state)
        return logits[:, -1], state

    def start(self, contexts: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Non-empty contexts of ids -> (logits (batch, vocabulary), state), all text read."""
        lengths = np.array([c.size for c in contexts])
        state = self.zero_state(len(contexts))
        result = None
        for length in np.unique(lengths):
            rows = np.flatnonzero(lengths == length)
            logits, rows_state = self.read(np.stack([contexts[i] for i in rows]), self.zero_state(len(rows)))
            if result is None:
                result = np.empty((len(contexts), logits.shape[-1]), np.float32)
            result[rows] = logits
            for whole, part in zip(state, rows_state):
                whole[rows] = part
        return result, state

    def advance(self, state: list[np.ndarray], next_ids: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        logits, state = self._step(np.asarray(next_ids, np.int32).reshape(-1, 1), state)
        return logits[:, -1], state

    def scoring_model(self):
        """The model for `scored`: a twin sharing this model's layers and weights, compiled
        whole with XLA. scored() calls it with one shape throughout, so it compiles once,
        and the time loop then runs ~3x faster on a TensorFlow CPU (docs/benchmarks.md,
        section 9). JAX compiles every model anyway; torch stays eager (its XLA-like path,
        torch.compile, is another dependency's concern)."""
        if self._scoring_model is None:
            self._scoring_model = keras.Model(self.model.inputs, self.model.outputs, name="scoring")
            self._scoring_model.jit_compile = keras.backend.backend() != "torch"
        return self._scoring_model

    def scored(self, split: Split, batch_size: int = 1024):
        """(logits (n, vocabulary), targets (n,)) for every token after the first of each segment,
        each predicted from all the text before it in its segment.

        Segments run side by side, one lane each (up to batch_size // 64 lanes), read in
        chunks of about batch_size // lanes tokens: no lane ever starts in the middle of a
        segment, so the figures equal a single-lane pass.
        """
        pairs = pair_counts(split)
        if not (pairs > 0).any():
            return
        lanes = int(max(1, min((pairs > 0).sum(), batch_size // MIN_SCORING_CHUNK)))
        chunk = int(min(max(MIN_SCORING_CHUNK, batch_size // lanes), pairs.max()))
        layout = lay_out(split.bounds, chunk, lanes, keep_segments_whole=True)
        model = self.scoring_model()
        state = self.zero_state(lanes)
        for step in range(layout.steps):
            tokens, targets, weights, resets = gather_step(split.ids, layout, step, chunk)
            keep = (1.0 - resets)[:, None]
            state = [s * keep for s in state]
            logits, state = self._step(tokens, state, model)
            valid = weights > 0
            yield logits[valid], targets[valid]


MIN_SCORING_CHUNK = 64  # scored() reads at least this many tokens per lane and call


class FullContext:
    """Lanes read in chunks of `bptt` with carried state; see word_predictor.contexts."""

    def __init__(self, config):
        self.config = config
        self.min_tokens = 2

    def block_size(self, tokens: int) -> int:
        """Split blocks of 5% of the corpus (and a few chunks at least): validation and test each get a
        few long stretches of text (20 blocks: 2 for validation, 4 for test at the default fractions),
        so their figures use long contexts too."""
        return max(4 * (self.config.bptt + 1), tokens // 20)

    def check_training_split(self, split: Split) -> None:
        tokens = split.token_count
        if self.config.bptt > tokens - 1:
            raise SettingError(
                "{bptt} {given} is longer than the training split ({tokens} tokens); use {bptt} {most} or less, "
                "or add text", given=self.config.bptt, tokens=tokens, most=max(1, tokens // 4),
            )
        if self.config.batch_size > tokens - 1:  # more lanes than (input, target) pairs to deal them
            raise SettingError(
                "{batch_size} {given} lanes need at least as many tokens of training text, and the training split "
                "has {tokens}; use {batch_size} {most} or less, or add text",
                given=self.config.batch_size, tokens=tokens, most=max(1, tokens // (4 * self.config.bptt) or 1),
            )

    def training_model(self, on_gpu: bool, use_cudnn="auto"):
        # As for windows: on a CPU the bptt steps unrolled train faster; a GPU keeps cuDNN.
        return build_model(self.config, "training", fixed_length=not on_gpu, use_cudnn=use_cudnn)

    def training_batches(self, split: Split, epoch: int) -> LaneBatches:
        return LaneBatches(split, bptt=self.config.bptt, lanes=self.config.batch_size)

    # Validation is scored as evaluate scores a text, each segment read whole by one lane
    # of the inference view's reader (training.validation.ScoredValidation): the training
    # view's lanes are fixed at --batch-size, so a few long segments left most of them idle.
    validated_by = "reader"

    def has_validation_targets(self, split: Split) -> bool:
        return bool((pair_counts(split) > 0).any())

    def reader(self, inference_model) -> StreamReader:
        return StreamReader(inference_model, self.config)

