"""Keyboard figures: what typing each word on a 3-suggestion keyboard costs, and the
words that complete a typed prefix. NumPy only."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from word_predictor.text.vocabulary import UNKNOWN_ID

# Suggestions a keyboard shows above the keys; keyboard papers report top-3 figures.
KEYBOARD_SUGGESTIONS = 3

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
        self._index = {token: i for i, token in enumerate(self.tokens)}
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

    def completions(
        self, probabilities: np.ndarray, prefix: str, k: int, extra: Mapping[str, float] | None = None
    ) -> list[tuple[str, float]]:
        """The k most probable tokens that start with `prefix`, with their probability
        renormalised over all tokens that do (excluded ones aside); [] when none does.
        `extra`: words outside the index with their probability (the words a user typed
        that the vocabulary lacks), offered beside the tokens, after them on a tie."""
        lo, hi = self.prefix_range(prefix)
        ids = self.order[lo:hi]
        ids = ids[~self.excluded[ids]]
        words = [(word, p) for word, p in (extra or {}).items() if word.startswith(prefix) and word not in self._index]
        if ids.size + len(words) == 0 or k <= 0:
            return []
        names = [self.tokens[i] for i in ids] + [word for word, _ in words]
        probabilities = np.concatenate([np.asarray(probabilities, np.float64)[ids], [p for _, p in words]])
        total = probabilities.sum()
        shares = probabilities / total if total > 0 else np.full(len(names), 1 / len(names))
        ties = np.concatenate([ids, len(self.tokens) + np.arange(len(words))])  # the lower id first, then extra words
        best = np.lexsort((ties, -shares))[:k]
        return [(names[i], float(shares[i])) for i in best]

    def cost_of_word(
        self, probabilities: np.ndarray, word: str, extra: Mapping[str, float], shown: int = KEYBOARD_SUGGESTIONS,
        start: int = 0,
    ) -> int:
        """What `word` costs to type (as `keystrokes` counts) when the keyboard also offers
        the words of `extra` (outside the index, with their probability): a word of the
        index or of `extra` is picked once it is among the `shown` likeliest with the
        letters typed so far; a tie goes to the index's word, then to the lower id or the
        earlier word alphabetically. One row at a time: for the few targets the vectorised
        `keystrokes` cannot answer. `start`: letters typed before which the word is known not to
        be offered (extra words only add rivals: a known word's own cost less one)."""
        probabilities = np.asarray(probabilities, np.float64)
        target = self._index.get(word)
        if target is not None and self.excluded[target]:
            target = None
        if target is None and word not in extra:
            return len(word)  # never offered
        own = probabilities[target] if target is not None else extra[word]
        rivals = [other for other, p in extra.items()  # the extra words ranked before `word`, wherever they fit
                  if other != word and other not in self._index
                  and (p > own or (p == own and target is None and other < word))]  # fmt: skip
        for typed in range(start, len(word)):
            prefix = word[:typed]
            lo, hi = self.prefix_range(prefix)
            ids = self.order[lo:hi]
            ids = ids[~self.excluded[ids]]
            ahead = probabilities[ids] > own
            if target is not None:
                ahead |= (probabilities[ids] == own) & (ids < target)
            else:
                ahead |= probabilities[ids] == own
            count = int(ahead.sum()) + sum(other.startswith(prefix) for other in rivals)
            if count < shown:
                return min(typed + 1, len(word))
        return len(word)

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
        m = targets.size
        # beats[i, j]: token j is shown before target i (more probable, or as probable
        # with a lower id); in id order, "a lower id" is just the columns before the target.
        target_probability = probabilities[np.arange(m), targets][:, None]
        beats = probabilities > target_probability
        shares_probability = np.count_nonzero(probabilities == target_probability, axis=1) > 1
        for i in np.flatnonzero(shares_probability):  # rare outside a constant distribution
            lower = slice(0, targets[i])
            beats[i, lower] |= probabilities[i, lower] == target_probability[i]
        beats[:, self.excluded] = False
        costs = np.ones(m, np.int64)  # among the first suggestions, before any letter: one pick
        later = np.flatnonzero(np.count_nonzero(beats, axis=1) >= shown)
        if later.size:
            costs[later] = self._typed_costs(beats[later], targets[later], shown)
        return costs

    def _typed_costs(self, beats: np.ndarray, targets: np.ndarray, shown: int) -> np.ndarray:
        """(m, V) tokens shown before each target, (m,) targets not shown before a letter
        is typed -> (m,) costs.

        After k >= 1 letters a target's rivals are the tokens of its prefix's range, and
        every such range lies inside the range of its first letter, so each row's counts
        are taken over that range alone (a small share of the vocabulary) rather than all
        of it. The rows' ranges are laid end to end in one array:

            row 0: first letter "c"   |c.......|        ranges in alphabetical order
            row 1: first letter "t"            |t.....|
            flags:                    |01001000|000100|   1: the token beats the row's target
            counted = cumsum of flags with a 0 in front: a range [lo, hi) of row r
            holds counted[flag_start[r] + hi - lo_r] - counted[flag_start[r] + lo - lo_r]
        """
        starts, lows, highs = self._prefix_ranges()
        lengths = self.lengths[targets]
        costs = lengths.copy()  # a target shown with none of its letters left out is typed in full
        rows = np.flatnonzero(lengths > 1)
        if rows.size == 0:
            return costs
        first_letter = starts[targets[rows]] + 1  # each row's entry for one letter typed
        range_lo, width = lows[first_letter], highs[first_letter] - lows[first_letter]
        flag_start = np.cumsum(width) - width
        column = np.arange(width.sum()) - np.repeat(flag_start - range_lo, width)  # alphabetical positions
        flags = beats[np.repeat(rows, width), self.order[column]]
        counted = np.zeros(flags.size + 1, np.int64)
        np.cumsum(flags, out=counted[1:])
        # One entry per (row, letters typed k) for k = 1 .. L - 1, row by row.
        per_row = lengths[rows] - 1
        entry_row = np.repeat(np.arange(rows.size), per_row)
        first_entry = np.cumsum(per_row) - per_row
        typed = np.arange(per_row.sum()) - np.repeat(first_entry, per_row) + 1
        entry = np.repeat(first_letter, per_row) + typed - 1
        base = (flag_start - range_lo)[entry_row]
        ahead_in_range = counted[base + highs[entry]] - counted[base + lows[entry]]
        cost_if_first = np.where(ahead_in_range < shown, typed + 1, lengths[rows][entry_row])
        costs[rows] = np.minimum.reduceat(cost_if_first, first_entry)
        return costs

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

