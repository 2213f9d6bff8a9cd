"""Drawing continuations token by token: the generation loop shared by generate,
predict's --words and the TensorBoard samples.

    empty prompt:  begin_logits --draw--> t1 --start([t1])--> logits --draw--> t2 --advance--> ...
    a prompt:      start(prompt) --> logits --draw--> t1 --advance--> logits --draw--> t2 ...
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from word_predictor.scoring.figures import softmax, target_log_probabilities
from word_predictor.scoring.sampling import sample_batch
from word_predictor.text.vocabulary import UNKNOWN_ID, Vocabulary


@dataclass
class Sample:
    tokens: list[str]  # what was written after the prompt
    log_probability: float  # natural log of the model's probability of `tokens` after the prompt
    stopped: bool  # ended at a stop token rather than at the length asked for


@dataclass
class Generation:
    context: list[str]
    unknown: list[str]
    samples: list[Sample]


def draw(
    reader,
    vocabulary: Vocabulary,
    begin_logits: np.ndarray,
    contexts: list[list[str]],
    count: int,
    *,
    rng: np.random.Generator,
    stop_ids: Sequence[int] = (),
    exclude: Sequence[int] = (UNKNOWN_ID,),
    on_token: Callable[[int, str], None] | None = None,
    **settings,
) -> list[Sample]:
    """One sample per context (all empty or none), the rows read through `reader` as one batch;
    an empty context starts from `begin_logits` (the start of a text).

    A row that has stopped is still advanced with the others (the batch keeps
    its shape) but writes nothing more.
    """
    rows = len(contexts)
    if rows == 0:
        return []
    if any(contexts) and not all(contexts):
        raise ValueError("contexts sampled together must all be empty or all hold tokens")
    written: list[list[str]] = [[] for _ in range(rows)]
    log_probability = np.zeros(rows)
    running = np.ones(rows, bool)
    stopped = np.zeros(rows, bool)
    state = None
    if contexts[0]:
        logits, state = reader.start([vocabulary.encode(c) for c in contexts])
    else:
        logits = np.tile(begin_logits, (rows, 1))
    for step in range(count):
        ids = sample_batch(logits, exclude=exclude, rng=rng, **settings)  # (rows,)
        chosen = target_log_probabilities(softmax(logits), ids)  # the model's, before temperature
        for row in np.flatnonzero(running):
            token = vocabulary.tokens[ids[row]]
            written[row].append(token)
            log_probability[row] += chosen[row]
            if on_token is not None:
                on_token(int(row), token)
        stopped |= running & np.isin(ids, stop_ids)
        running &= ~stopped
        if step + 1 == count or not running.any():
            break
        ids = ids.astype(np.int32)
        if state is None:  # the first token of an empty context becomes its context
            logits, state = reader.start([ids[row : row + 1] for row in range(rows)])
        else:
            logits, state = reader.advance(state, ids)
    return [Sample(written[row], float(log_probability[row]), bool(stopped[row])) for row in range(rows)]
