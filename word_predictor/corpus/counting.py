"""Counting tokens in bounded memory: exact up to a limit of distinct tokens,
upper bounds beyond it (see CountTable)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Distinct tokens counted at once: bounds the counting memory (a dict entry and a string each,
# about 150 bytes). Without a cap on the vocabulary:
COUNT_LIMIT = 2_000_000
# With a cap: entries for each word the vocabulary may hold. A prune keeps half the entries,
# twice the cap, so the words it drops are rarer than the vocabulary's (see count_limit_for).
ENTRIES_PER_WORD = 4
_FEWEST_ENTRIES = 10_000


def count_limit_for(max_vocabulary: int) -> int:
    """Distinct tokens counted at once for a vocabulary of at most `max_vocabulary` tokens (0: no cap).

    A capped vocabulary needs only its words' counts to be exact, not every rare word's: a
    table of ENTRIES_PER_WORD times the cap (not the corpus' distinct words, which keep
    growing with it) keeps the counting memory the same for 10M words as for 100M, and
    the vocabulary is still exact whenever its rarest word is seen more often than the
    table's floor (build._warn_of_gaps says when it may not be).
    """
    if max_vocabulary <= 0:
        return COUNT_LIMIT
    return min(COUNT_LIMIT, max(_FEWEST_ENTRIES, ENTRIES_PER_WORD * max_vocabulary))

class FirstSeen(dict):
    """token -> its number in the order of first sight: local ids, table slots."""

    def __missing__(self, token: str) -> int:
        number = self[token] = len(self)
        return number


class CountTable:
    """Counts of tokens in at most `limit` entries, as upper bounds.

    Each entry holds an upper bound on its token's count, less `floor`; a token
    without an entry was seen at most `floor` times. When merging more counts would
    pass `limit` entries, the table keeps its `limit // 2` largest entries: it drops
    every entry of at most k, lowers the others by k and raises `floor` by k (so
    every bound is unchanged). A token dropped and seen again restarts from the
    floor, which covers what it had. Hence, at the end:

        entry <= true count <= entry + floor   for every token with an entry
        true count <= floor                    for every other token

    With at most `limit` distinct tokens nothing is ever dropped, the floor is 0
    and the counts are exact. Tokens whose bound passes the unknown threshold are
    the candidates that pass 2 counts exactly on the training split, so the
    vocabulary is exact whenever floor <= unknown_threshold; otherwise only tokens
    seen at most `floor` times in the whole corpus can be missed. A prune by k takes
    k from at least `limit // 2 + 1` entries, so for N tokens counted the floor never
    passes N / (limit // 2 + 1).
    """

    def __init__(self, limit: int = COUNT_LIMIT):
        if limit < 2:
            raise ValueError("a count table needs a limit of at least 2 entries")
        self.limit = limit
        self.floor = 0
        self.peak = 0  # the most entries ever held
        # token -> slot, and each slot's token and entry: the entries live in NumPy,
        # so merging a piece's counts is one C-level pass, not a Python loop.
        self._slots: FirstSeen = FirstSeen()
        self._tokens: list[str] = []
        self._entries = np.zeros(1024, np.int64)

    def __len__(self) -> int:
        return len(self._slots)

    def merge(self, tokens: Sequence[str], counts: Sequence[int]) -> None:
        """Add the exact counts of distinct `tokens` (those of one piece of text)."""
        counts = np.asarray(counts, np.int64)
        if counts.shape != (len(tokens),):
            raise ValueError("merge needs one count per token")
        step = self.limit // 2
        for first in range(0, len(tokens), step):
            part = tokens[first : first + step]
            # Prune only if the new tokens would not fit (counted when they might not).
            if len(self) + len(part) > self.limit:
                if len(self) + sum(token not in self._slots for token in part) > self.limit:
                    self._prune()
            known = len(self)
            # A new token gets the next slot: known, known + 1, ...
            slots = np.fromiter(map(self._slots.__getitem__, part), np.int64, len(part))
            self._tokens += [part[i] for i in np.flatnonzero(slots >= known).tolist()]
            if len(self) > self._entries.size:  # room for twice as many
                self._entries = np.concatenate([self._entries, np.zeros(len(self), np.int64)])
            self._entries[slots] += counts[first : first + step]
            self.peak = max(self.peak, len(self))

    @property
    def counts(self) -> dict[str, int]:
        """Each entry (a bound less `floor`), by token."""
        return dict(zip(self._tokens, self._entries[: len(self)].tolist()))

    def upper_bounds(self) -> dict[str, int]:
        return dict(zip(self._tokens, (self._entries[: len(self)] + self.floor).tolist()))

    def _prune(self) -> None:
        keep = self.limit // 2
        values = self._entries[: len(self)]
        if values.size <= keep:
            return
        k = int(np.partition(values, values.size - keep - 1)[values.size - keep - 1])
        kept = np.flatnonzero(values > k)
        self._tokens = [self._tokens[i] for i in kept.tolist()]
        self._slots = FirstSeen(zip(self._tokens, range(len(kept))))
        self._entries = np.concatenate([values[kept] - k, np.zeros(self._entries.size - kept.size, np.int64)])
        self.floor += k

