"""Every figure a next-token predictor is judged by, in one place: NumPy only.

evaluate, predict, generate, runs and the TensorBoard callbacks all score with these,
so a rule (the floor under a zero probability, how ties rank, what a keyboard shows)
is written once.

Language-model figures: `perplexity` and `bits_per_token` from a mean loss in nats;
`target_ranks` and `top_k` for accuracy and suggestions. Keyboard figures:
`PrefixIndex.keystrokes` (what typing each word on a 3-suggestion keyboard costs) and
`PrefixIndex.completions` (the words that complete a typed prefix). `Tally` adds
batches up into the dictionary that evaluate prints.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from word_predictor.text import UNKNOWN_ID

# A probability that underflowed to 0 still gets a finite log, so one such target
# makes the loss large instead of infinite.
PROBABILITY_FLOOR = 1e-30
# Suggestions a keyboard shows above the keys; keyboard papers report top-3 figures.
KEYBOARD_SUGGESTIONS = 3


def perplexity(loss: float) -> float:
    """exp(mean loss in nats); inf where exp overflows (a loss past about 709.78)."""
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf


def bits_per_token(loss: float) -> float:
    """Mean loss in bits: nats / ln 2 (bits per character for a character-level run)."""
    return loss / math.log(2)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits along the last axis, computed stably."""
    logits = np.asarray(logits)
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
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


class Keystrokes(NamedTuple):
    """Per target: letters typed plus picks (`costs`) against letters in the word (`letters`)."""

    costs: np.ndarray  # (n,) int64
    letters: np.ndarray  # (n,) int64; 0 for a target left out of the figure


class PrefixIndex:
    """The vocabulary in alphabetical order, so the words that share a prefix are one range.

        sorted:  ... | cap | car | card | care | cart | cat | ...
        "car"                ^lo------------------------^hi   4 words start with "car": [lo, hi)

    `keystrokes` and `completions` read a whole batch of distributions against it.
    Token ids listed in `exclude` (the unknown symbol) are never shown or suggested.
    """

    def __init__(self, tokens: Sequence[str], exclude: Iterable[int] = (UNKNOWN_ID,)):
        self.tokens = tuple(tokens)
        self.order = np.array(sorted(range(len(self.tokens)), key=self.tokens.__getitem__), np.int64)
        self._sorted = [self.tokens[i] for i in self.order]
        self.excluded = np.zeros(len(self.tokens), bool)
        self.excluded[list(exclude)] = True
        self.lengths = np.array([len(token) for token in self.tokens], np.int64)
        self._ranges: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.tokens)

    def prefix_range(self, prefix: str) -> tuple[int, int]:
        """[lo, hi) of the positions in alphabetical order whose tokens start with `prefix`."""
        lo = bisect.bisect_left(self._sorted, prefix)
        if not prefix:
            return lo, len(self._sorted)
        last = ord(prefix[-1])
        if last == 0x10FFFF:  # no character above it: scan (never happens with normalised words)
            hi = lo
            while hi < len(self._sorted) and self._sorted[hi].startswith(prefix):
                hi += 1
            return lo, hi
        # A string starts with prefix exactly when prefix <= it < prefix with its last
        # character raised by one.
        return lo, bisect.bisect_left(self._sorted, prefix[:-1] + chr(last + 1), lo)

    def completions(self, probabilities: np.ndarray, prefix: str, k: int) -> list[tuple[str, float]]:
        """The k most probable tokens that start with `prefix`, with their probability
        renormalised over all tokens that do (excluded ones aside); [] when none does."""
        lo, hi = self.prefix_range(prefix)
        ids = self.order[lo:hi]
        ids = ids[~self.excluded[ids]]
        if ids.size == 0 or k <= 0:
            return []
        probabilities = np.asarray(probabilities, np.float64)[ids]
        total = probabilities.sum()
        shares = probabilities / total if total > 0 else np.full(ids.size, 1 / ids.size)
        best = np.lexsort((ids, -shares))[:k]
        return [(self.tokens[ids[i]], float(shares[i])) for i in best]

    def keystrokes(
        self,
        probabilities: np.ndarray,
        targets: np.ndarray,
        word_lengths: np.ndarray | None = None,
        shown: int = KEYBOARD_SUGGESTIONS,
        rows_at_once: int = 256,
    ) -> Keystrokes:
        """What each target costs to type on a keyboard that shows `shown` suggestions.

        probabilities (n, V), targets (n,) -> Keystrokes of (n,) costs and letters.
        After each typed letter (and before the first) the keyboard shows the `shown`
        most probable tokens that start with the letters typed so far, ties to the
        lower id as in `top_k`; once the target is among them one keystroke picks it.
        A target of L letters first shown after k letters costs min(k + 1, L); one
        never shown costs L.

        An excluded target (the unknown symbol) is never shown: it costs the length of
        the word really written there, read from `word_lengths` (n,) when given; without
        it, such targets are left out (0 letters, 0 cost), so the figure covers known
        targets only.
        """
        targets = np.asarray(targets, np.int64)
        letters = np.where(self.excluded[targets], 0, self.lengths[targets])
        if word_lengths is not None:
            letters = np.where(self.excluded[targets], np.asarray(word_lengths, np.int64), letters)
        costs = letters.copy()
        known = np.flatnonzero(~self.excluded[targets] & (letters > 0))
        for begin in range(0, known.size, rows_at_once):
            rows = known[begin : begin + rows_at_once]
            costs[rows] = self._known_costs(probabilities[rows], targets[rows], shown)
        return Keystrokes(costs=costs, letters=letters)

    def _known_costs(self, probabilities: np.ndarray, targets: np.ndarray, shown: int) -> np.ndarray:
        """(m, V), (m,) targets that are neither excluded nor empty -> (m,) costs."""
        starts, lows, highs = self._prefix_ranges()
        m = targets.size
        # beats[i, j]: token j is shown before target i (more probable, or as probable
        # with a lower id); in id order, "a lower id" is just the columns before the target.
        target_probability = probabilities[np.arange(m), targets][:, None]
        beats = probabilities > target_probability
        shares_probability = np.sum(probabilities == target_probability, axis=1) > 1
        for i in np.flatnonzero(shares_probability):  # rare outside a constant distribution
            lower = slice(0, targets[i])
            beats[i, lower] |= probabilities[i, lower] == target_probability[i]
        beats[:, self.excluded] = False
        # ahead[i, j]: tokens before alphabetical position j that beat target i, so a
        # range [lo, hi) holds ahead[i, hi] - ahead[i, lo] of them.
        ahead = np.zeros((m, len(self.order) + 1), np.int32)
        np.cumsum(np.take(beats, self.order, axis=1), axis=1, out=ahead[:, 1:])
        # One entry per (target, letters typed k) for k = 0 .. L - 1, target by target.
        lengths = self.lengths[targets]
        row = np.repeat(np.arange(m), lengths)
        first_entry = np.cumsum(lengths) - lengths
        typed = np.arange(lengths.sum()) - np.repeat(first_entry, lengths)
        entry = np.repeat(starts[targets], lengths) + typed
        ahead_in_range = ahead[row, highs[entry]] - ahead[row, lows[entry]]
        cost_if_first = np.where(ahead_in_range < shown, typed + 1, lengths[row])
        return np.minimum.reduceat(cost_if_first, first_entry)

    def _prefix_ranges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For token t and k < len(t): the range of tokens[t][:k] is
        [lows[starts[t] + k], highs[starts[t] + k]). Built on first use."""
        if self._ranges is None:
            lows, highs = [], []
            for token in self.tokens:
                for k in range(len(token)):
                    lo, hi = self.prefix_range(token[:k])
                    lows.append(lo)
                    highs.append(hi)
            starts = np.cumsum(self.lengths) - self.lengths
            self._ranges = (starts, np.array(lows, np.int64), np.array(highs, np.int64))
        return self._ranges


def completions(
    probabilities: np.ndarray,
    tokens: Sequence[str],
    prefix: str,
    k: int,
    exclude: Iterable[int] = (UNKNOWN_ID,),
) -> list[tuple[str, float]]:
    """The k most probable tokens that start with `prefix` with their renormalised
    probability; [] when no token does. Keep a PrefixIndex to answer many prefixes."""
    return PrefixIndex(tokens, exclude).completions(probabilities, prefix, k)


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
        self.top1 = self.top3 = self.top5 = self.known_top1 = self.known_top5 = 0
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
        self.known_top5 += int(np.sum((ranks < 5) & known))
        if keystrokes is not None:
            self.has_keystrokes = True
            self.letters += int(keystrokes.letters.sum())
            self.letters_saved += int((keystrokes.letters - keystrokes.costs).sum())

    def summary(self) -> dict:
        if self.tokens == 0:
            raise ValueError("no targets were scored")
        loss = -self.log_likelihood / self.tokens
        figures = {
            "tokens": self.tokens,
            "loss": loss,
            "perplexity": perplexity(loss),
            "top1": self.top1 / self.tokens,
            "top3": self.top3 / self.tokens,
            "top5": self.top5 / self.tokens,
            "known_tokens": self.known,
            "known_top1": self.known_top1 / self.known if self.known else 0.0,
            "known_top5": self.known_top5 / self.known if self.known else 0.0,
            "unknown_rate": 1 - self.known / self.tokens,
            "bits_per_token": bits_per_token(loss),
        }
        if self.has_keystrokes:
            figures["keystroke_savings"] = self.letters_saved / self.letters if self.letters else 0.0
        return figures
