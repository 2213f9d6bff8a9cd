"""Reading a text through a full-context model's inference view, the state carried by the
caller: predict's and generate's contexts, and scoring a split as evaluate does.

    start(contexts)           each context read in long steps from a zero state ->
                              (logits of the next token, the state after it)
    advance(state, next_ids)  one more token per row
    scored(split)             (logits, targets) of every scored target, each segment
                              read whole by one lane (lanes.lay_out, keep_segments_whole)
"""

from __future__ import annotations

import numpy as np

from word_predictor.backend import keras
from word_predictor.batches.lanes import gather_step, lay_out
from word_predictor.corpus.splits import Split
from word_predictor.model.layers import STATES_PER_CELL
from word_predictor.scoring.reading import pair_counts

MIN_SCORING_CHUNK = 64  # scored() reads at least this many tokens per lane and call
MAX_READ_CHUNK = 4096  # read() never asks for more tokens per call ...
LOGITS_PER_CALL = 1 << 22  # ... nor (much) more logits than this (16 MB of float32)


class StreamReader:
    """Next-token logits with the whole context read, the state carried explicitly.

    The inference view maps [tokens, *states] -> [logits, *states]; a context's
    state is its list of state rows, so advancing by a token costs one step.
    """

    def __init__(self, model, config, chunk: int | None = None):
        self.model = model
        self.units = config.units
        self.state_count = config.layers * STATES_PER_CELL[config.cell]
        # Tokens per call when reading a long context: as many as keep one call's logits,
        # (batch, chunk, vocabulary), near LOGITS_PER_CALL floats (4096 characters, 128 words
        # of a 30k vocabulary); a power of two.
        fitting = LOGITS_PER_CALL // max(1, config.vocabulary_size or 1)
        self.chunk = chunk or int(min(MAX_READ_CHUNK, max(MIN_SCORING_CHUNK, 1 << (fitting.bit_length() - 1))))
        self._scoring_model = None

    def zero_state(self, batch: int) -> list[np.ndarray]:
        return [np.zeros((batch, self.units), np.float32) for _ in range(self.state_count)]

    def _step(self, tokens: np.ndarray, state: list[np.ndarray], model=None):
        """(batch, time) tokens from `state` -> (logits (batch, time, vocabulary), new state)."""
        logits, *state = (model or self.model).predict_on_batch([tokens.astype(np.int32), *state])
        return np.asarray(logits, dtype=np.float32), [np.asarray(s, dtype=np.float32) for s in state]

    def read(self, tokens: np.ndarray, state: list[np.ndarray]):
        """Read (batch, time) tokens -> (logits of the last position, state), in few shapes:

            |<- chunk ->|<- chunk ->|<- chunk ->|<-- 2^k -->|<2^j>|1|
             compiled twin (scoring_model)        plain model, powers of two

        Whole chunks go through the XLA-compiled twin (one shape, compiled once, ~3x
        faster per step on a TensorFlow CPU); the rest in pieces of decreasing powers of
        two through the plain model, so a text of any length costs at most a few calls
        of shapes already traced, instead of one call per 256 tokens."""
        logits, begin, length = None, 0, tokens.shape[1]
        if length >= self.chunk:
            model = self.scoring_model()
            for begin in range(0, length - length % self.chunk, self.chunk):
                logits, state = self._step(tokens[:, begin : begin + self.chunk], state, model)
            begin += self.chunk
        while begin < length:
            piece = 1 << ((length - begin).bit_length() - 1)
            logits, state = self._step(tokens[:, begin : begin + piece], state)
            begin += piece
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

    @staticmethod
    def select(state: list[np.ndarray], rows: np.ndarray) -> list[np.ndarray]:
        """The state of contexts `rows` (repeats allowed), as a beam keeps its best rows."""
        return [s[rows] for s in state]

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
