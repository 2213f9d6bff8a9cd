"""Every figure a next-token predictor is judged by: NumPy only."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from word_predictor.scoring.keyboard import Keystrokes
from word_predictor.text.vocabulary import UNKNOWN_ID

# A probability that underflowed to 0 still gets a finite log, so one such target
# makes the loss large instead of infinite.
PROBABILITY_FLOOR = 1e-30


def perplexity(loss: float) -> float:
    """exp(mean loss in nats); inf where exp overflows (a loss past about 709.78)."""
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf


def bits_per_token(loss: float) -> float:
    """Mean loss in bits: nats / ln 2 (bits per character for a character-level run)."""
    return loss / math.log(2)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Probabilities from logits / temperature along the last axis, computed stably.

    The shift by the row's largest logit comes first, so every value divided is <= 0:
    a temperature too small to divide by sends every other logit to -inf (probability
    0), which is greedy, and inf - inf never happens. The one softmax of the package:
    evaluate, predict and sampling all call it.
    """
    logits = np.asarray(logits)
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    if temperature != 1:
        with np.errstate(over="ignore", divide="ignore"):  # -x / tiny T -> -inf is the point
            shifted /= temperature
    np.exp(shifted, out=shifted)  # in place: evaluate runs this over every target's whole vocabulary
    shifted /= shifted.sum(axis=-1, keepdims=True)
    return shifted


def target_log_probabilities(probabilities: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(n, V), (n,) -> (n,) natural log of each target's probability, floored."""
    chosen = probabilities[np.arange(len(targets)), targets]
    return np.log(np.maximum(chosen.astype(np.float64), PROBABILITY_FLOOR))


def target_ranks(probabilities: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(n, V), (n,) -> (n,) how many tokens are strictly more probable than the target.

    Rank 0 is a top-1 hit and rank < k a top-k hit. Ties count in the target's favour,
    as evaluate has always counted them.
    """
    chosen = probabilities[np.arange(len(targets)), targets]
    return np.sum(probabilities > chosen[:, None], axis=1)


def top_k(probabilities: np.ndarray, k: int, exclude: Iterable[int] = (UNKNOWN_ID,)) -> list[int]:
    """The ids of the k most probable tokens, most probable first, skipping `exclude`.

    Equal probabilities go to the lower id first, so the answer never depends on how
    a sort happened to break a tie. Fewer than k ids come back only when the
    vocabulary has fewer than k ids that are not excluded.
    """
    probabilities = np.asarray(probabilities)
    allowed = np.ones(probabilities.size, bool)
    allowed[list(exclude)] = False
    k = min(k, int(allowed.sum()))
    if k <= 0:
        return []
    # Everything at least as probable as the k-th best allowed id, then an exact sort
    # of those few by (probability descending, id ascending).
    kth_best = np.partition(probabilities[allowed], -k)[-k]
    candidates = np.flatnonzero(allowed & (probabilities >= kth_best))
    order = np.lexsort((candidates, -probabilities[candidates]))
    return candidates[order][:k].tolist()


class Tally:
    """Figures summed batch by batch; `summary()` gives the dictionary evaluate prints.

    Known targets are those that are not `unknown_id`; `known_*` figures count only
    them. keystroke_savings appears once keystroke figures have been added, and is
    sum(letters - cost) / sum(letters) over the targets they cover.
    """

    def __init__(self, unknown_id: int = UNKNOWN_ID):
        self.unknown_id = unknown_id
        self.tokens = self.known = 0
        self.log_likelihood = 0.0
        self.top1 = self.top3 = self.top5 = self.known_top1 = self.known_top3 = self.known_top5 = 0
        self.letters = self.letters_saved = 0
        self.has_keystrokes = False

    def add(
        self,
        target_log_probabilities: np.ndarray,
        ranks: np.ndarray,
        targets: np.ndarray,
        keystrokes: Keystrokes | None = None,
    ) -> None:
        """One batch: (n,) log-probabilities of the targets, their ranks, their ids."""
        known = np.asarray(targets) != self.unknown_id
        self.tokens += int(known.size)
        self.known += int(known.sum())
        self.log_likelihood += float(np.sum(target_log_probabilities, dtype=np.float64))
        self.top1 += int(np.sum(ranks == 0))
        self.top3 += int(np.sum(ranks < 3))
        self.top5 += int(np.sum(ranks < 5))
        self.known_top1 += int(np.sum((ranks == 0) & known))
        self.known_top3 += int(np.sum((ranks < 3) & known))  # the suggestions a 3-slot keyboard shows
        self.known_top5 += int(np.sum((ranks < 5) & known))
        if keystrokes is not None:
            self.has_keystrokes = True
            self.letters += int(keystrokes.letters.sum())
            self.letters_saved += int((keystrokes.letters - keystrokes.costs).sum())

    def summary(self) -> dict:
        """Every figure; one over an empty set (known_* with no known target, keystroke
        savings with no letter) is None, never a number: 0% of nothing is no figure."""
        if self.tokens == 0:
            raise ValueError("no targets were scored")
        loss = -self.log_likelihood / self.tokens
        figures = {
            "tokens": self.tokens,
            "loss": loss,
            "perplexity": perplexity(loss),
            "top1": share(self.top1, self.tokens),
            "top3": share(self.top3, self.tokens),
            "top5": share(self.top5, self.tokens),
            "known_tokens": self.known,
            "known_top1": share(self.known_top1, self.known),
            "known_top3": share(self.known_top3, self.known),
            "known_top5": share(self.known_top5, self.known),
            "unknown_rate": 1 - self.known / self.tokens,
            "bits_per_token": bits_per_token(loss),
        }
        if self.has_keystrokes:
            figures["keystroke_savings"] = share(self.letters_saved, self.letters)
        return figures


def share(part: float, whole: float) -> float | None:
    """part / whole, or None when whole is 0: the one rule for a figure over a count."""
    return part / whole if whole else None
