"""Completing the word being typed, for both levels, picked by the run's level:

    word  the known words that start with the last word of the text, ranked by the
          model given the words before it, renormalised over those words
    char  a small beam over characters from the end of the text to the next word
          boundary: each completion's probability is the model's for its remaining
          characters and then any character that ends a word

    "the gar" at char level:   context "the gar" -> beam of 8 -> "garden" 0.41, "garage" 0.12, ...

A beam keeps the `width` likeliest unfinished words at each step. Every step makes a
word longer and its probability smaller, so the search stops once the k-th best
finished word beats every unfinished one, or at `longest` characters.
"""

from __future__ import annotations

import numpy as np

from word_predictor.scoring.figures import PROBABILITY_FLOOR, softmax
from word_predictor.text.rules import inside_word
from word_predictor.text.vocabulary import UNKNOWN_ID

BEAM_WIDTH = 8  # unfinished words kept per step (at least the k asked for)
LONGEST_COMPLETION = 24  # characters added at most; a longer word is not offered


def typed_word(tokens: list[str]) -> str:
    """The characters of the word at the end of a character run's tokens ("" after a space)."""
    start = len(tokens)
    while start and inside_word(tokens[start - 1]):
        start -= 1
    return "".join(tokens[start:])


class CharacterBeam:
    """Beam completion over a character run's reader (`start`, `advance`, and `select`
    where it has one) and vocabulary."""

    def __init__(self, reader, vocabulary, begin_logits: np.ndarray):
        self.reader, self.vocabulary, self.begin_logits = reader, vocabulary, begin_logits
        tokens = vocabulary.tokens
        inside = np.array([i != UNKNOWN_ID and inside_word(t) for i, t in enumerate(tokens)])
        self.word_ids = np.flatnonzero(inside)  # characters that make the word longer
        self.boundary = ~inside  # characters that end it ...
        self.boundary[UNKNOWN_ID] = False  # ... but never the unknown symbol

    def complete(self, context: list[str], prefix: str, k: int, width: int = BEAM_WIDTH,
                 longest: int = LONGEST_COMPLETION) -> list[tuple[str, float]]:  # fmt: skip
        """The k likeliest whole words that start with `prefix` (typed at the end of
        `context`, which holds it), with their probabilities, likeliest first."""
        width = max(width, k)
        ids = self.vocabulary.encode(context)
        if ids.size:
            logits, state = self.reader.start([ids])
        else:
            logits, state = self.begin_logits[None, :], None
        words, scores = [""], np.zeros(1)  # the beam: characters added, log probability
        finished: list[tuple[float, str]] = []
        for step in range(longest + 1):
            log_p = np.log(np.maximum(softmax(logits), PROBABILITY_FLOOR))  # (beam, V)
            if prefix or step:
                ending = np.log(np.maximum(np.exp(log_p[:, self.boundary]).sum(axis=1), PROBABILITY_FLOOR))
                finished += [(s + e, prefix + w) for s, e, w in zip(scores.tolist(), ending.tolist(), words)]
            finished = sorted(finished, reverse=True)[:k]
            longer = scores[:, None] + log_p[:, self.word_ids]  # (beam, word characters)
            best = np.argsort(-longer, axis=None, kind="stable")[:width]
            if step == longest or (len(finished) == k and finished[-1][0] >= longer.flat[best[0]]):
                break
            parents, columns = np.unravel_index(best, longer.shape)
            chosen = self.word_ids[columns].astype(np.int32)
            words = [words[p] + self.vocabulary.tokens[c] for p, c in zip(parents.tolist(), chosen.tolist())]
            scores = longer.flat[best]
            logits, state = self._advance(ids, words, state, parents, chosen)
        return [(word, float(np.exp(score))) for score, word in finished]

    def _advance(self, ids, words, state, parents, chosen):
        """Logits after each beam word: one step from its parent's state, or the whole
        context read again where there is no state to carry (an empty context, or a
        reader without `select`)."""
        select = getattr(self.reader, "select", None)
        if state is None or select is None:
            return self.reader.start([np.concatenate([ids, self.vocabulary.encode(list(w))]) for w in words])
        return self.reader.advance(select(state, parents), chosen)
