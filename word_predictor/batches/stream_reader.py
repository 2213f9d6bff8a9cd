"""Reading a text through a full-context model's inference view, the state carried by the
caller: predict's and generate's contexts, and scoring a split as evaluate does.

    start(contexts)           each context read in long steps from a zero state ->
                              (logits of the next token, the state after it)
    advance(state, next_ids)  one more token per row
    scored(split)             (logits, targets) of every scored target, each segment
                              read whole by one lane (lanes.lay_out, keep_segments_whole)
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from word_predictor.backend import keras
from word_predictor.batches.lanes import gather_step, lay_out
from word_predictor.corpus.splits import Split
from word_predictor.model.factory import layer_stages
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
        self.model, self.config = model, config
        self.units = config.units
        self.state_count = config.layers * STATES_PER_CELL[config.cell]
        # Tokens per call when reading a long context: as many as keep one call's logits,
        # (batch, chunk, vocabulary), near LOGITS_PER_CALL floats (4096 characters, 128 words
        # of a 30k vocabulary); a power of two.
        fitting = LOGITS_PER_CALL // max(1, model.outputs[0].shape[-1] or 1)  # the vocabulary's size
        self.chunk = chunk or int(min(MAX_READ_CHUNK, max(MIN_SCORING_CHUNK, 1 << (fitting.bit_length() - 1))))
        self._scoring_model = None
        self._stages: list | None = None
        self._workers: ThreadPoolExecutor | None = None

    def zero_state(self, batch: int) -> list[np.ndarray]:
        return [np.zeros((batch, self.units), np.float32) for _ in range(self.state_count)]

    def _step(self, tokens: np.ndarray, state: list[np.ndarray], model=None):
        """(batch, time) tokens from `state` -> (logits (batch, time, vocabulary), new state)."""
        return self._call(model or self.model, tokens.astype(np.int32), state)

    @staticmethod
    def _call(model, inputs: np.ndarray, state: list[np.ndarray]):
        outputs, *state = model.predict_on_batch([inputs, *state])
        return np.asarray(outputs, dtype=np.float32), [np.asarray(s, dtype=np.float32) for s in state]

    def read(self, tokens: np.ndarray, state: list[np.ndarray]):
        """Read (batch, time) tokens -> (logits of the last position, state), in few shapes:

            |<- chunk ->|<- chunk ->|<- chunk ->|<-- 2^k -->|<2^j>|1|
             compiled (twin or stages)            plain model, powers of two

        Whole chunks go through XLA-compiled models of one shape (compiled once, ~3x
        faster per step on a TensorFlow CPU than the plain model): the twin, or for two
        chunks or more of a stacked model its layers as a pipeline (`_pipelined`). The
        rest goes in pieces of decreasing powers of two through the plain model, so a text
        of any length costs at most a few calls of shapes already traced, instead of one
        call per 256 tokens."""
        logits, begin, length = None, 0, tokens.shape[1]
        whole = length - length % self.chunk
        chunks = ((tokens[:, begin : begin + self.chunk], None) for begin in range(0, whole, self.chunk))
        for logits, state in self._chunks_read(chunks, state, whole // self.chunk):
            pass
        begin = whole
        while begin < length:
            piece = 1 << ((length - begin).bit_length() - 1)
            logits, state = self._step(tokens[:, begin : begin + piece], state)
            begin += piece
        return logits[:, -1], state

    def _chunks_read(self, chunks, state: list[np.ndarray], count: int):
        """(tokens (lanes, chunk), keep (lanes, 1) or None) per chunk, `count` of them ->
        (logits, state) per chunk, in order, through the compiled models; `keep` zeroes the
        state of the lanes that start a new segment there (0) before the chunk is read.
        Two chunks or more of a stacked model go through its layers as a pipeline."""
        if count >= 2 and self._pipelines():
            yield from self._pipelined(chunks, state)
            return
        model = self.scoring_model() if count else None
        for tokens, keep in chunks:
            logits, state = self._step(tokens, _kept(state, keep), model)
            yield logits, state

    def _pipelined(self, chunks, state: list[np.ndarray]):
        """_chunks_read layer by layer, one thread a layer: at each tick layer k reads chunk
        t - k while layer k - 1 reads chunk t - k + 1, so a stack of L layers keeps up to L
        cores busy where one call of the whole model keeps one (a layer's step waits only
        for its own previous step and for the layer below at the same position).

            tick:       0    1    2    3
            layer 1:   c0   c1   c2
            layer 2:        c0   c1   c2

        The state yielded with a chunk's logits is whole only with the last chunk's (the
        lower layers are ahead until then)."""
        stages, per_layer = self.stages(), STATES_PER_CELL[self.config.cell]
        states = [state[k * per_layer : (k + 1) * per_layer] for k in range(len(stages))]
        waiting = [None] * len(stages)  # (inputs, keep) of each layer's next chunk
        chunks = iter(chunks)
        while True:
            first = next(chunks, None)
            waiting[0] = None if first is None else (first[0].astype(np.int32), first[1])
            if all(job is None for job in waiting):
                return
            calls = {}
            for k, job in enumerate(waiting):
                if job is not None:
                    inputs, keep = job
                    states[k] = _kept(states[k], keep)
                    calls[k] = (self._workers.submit(self._call, stages[k], inputs, states[k]), keep)
            waiting = [None] * len(stages)
            for k, (call, keep) in calls.items():
                outputs, states[k] = call.result()
                if k + 1 < len(stages):
                    waiting[k + 1] = (outputs, keep)
                else:
                    yield outputs, [s for layer in states for s in layer]

    def _pipelines(self) -> bool:
        """A stacked model, whose layers can overlap, unless two of its stages share a
        weight (a tied embedding: the first and the last) on JAX, which hands a model's
        weights over to each of its calls (donation), so no two calls may hold one at once;
        and not under a keras.distribution, whose models' calls are the mesh's to order."""
        shared = self.config.tie_weights and keras.backend.backend() == "jax"
        return self.config.layers > 1 and not shared and keras.distribution.distribution() is None

    def stages(self) -> list:
        """The model cut after each recurrent layer (model.build.layer_stages), each compiled
        as the twin is, and one worker thread per layer to call them."""
        if self._stages is None:
            self._stages = layer_stages(self.model, self.config)
            for stage in self._stages:
                stage.jit_compile = keras.backend.backend() != "torch"
            self._workers = ThreadPoolExecutor(len(self._stages), thread_name_prefix="layer")
        return self._stages

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
        and the time loop then runs ~3x faster on a TensorFlow CPU (docs/benchmarks-log.md,
        "Full context against the PyTorch word-language-model recipe"). JAX compiles every
        model anyway; torch stays eager (its XLA-like path, torch.compile, is another
        dependency's concern)."""
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
        labels = deque()  # (targets, weights) of the chunks read but not yet answered

        def chunks():
            for step in range(layout.steps):
                tokens, targets, weights, resets = gather_step(split.ids, layout, step, chunk)
                labels.append((targets, weights))
                yield tokens, (1.0 - resets)[:, None]

        for logits, _state in self._chunks_read(chunks(), self.zero_state(lanes), layout.steps):
            targets, weights = labels.popleft()
            valid = weights > 0
            yield logits[valid], targets[valid]


def _kept(state: list[np.ndarray], keep: np.ndarray | None) -> list[np.ndarray]:
    """`state` with the rows of lanes that start a new segment (keep 0) zeroed; None keeps all."""
    return state if keep is None else [s * keep for s in state]
