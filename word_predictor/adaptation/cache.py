"""A continuous cache (Grave, Joulin and Usunier, "Improving neural language models with a
continuous cache", 2017): the recent hidden states, each with the word that followed it,
mixed into the model's distribution. NumPy only, so it works beside any engine that
gives out the hidden state (the last layer's output, before the output layer).

    p(w) = (1 - mix) * p_model(w) + mix * p_cache(w)
    p_cache(w) = sum over cached positions i followed by w of softmax_i(theta * h . h_i)

Each position is keyed by the word that followed it *as it was typed*: a word outside
the vocabulary keeps its own text. Such a word can only take probability from the
unknown symbol's class: the mixture is computed over the vocabulary with the new words
counted as the unknown symbol, then each new word is handed its cache share out of that
class. The unknown symbol itself is never a suggestion; what stays in its class is "some
other word the model does not know".
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

import numpy as np

from word_predictor.adaptation.settings import CacheSettings
from word_predictor.text.vocabulary import UNKNOWN_ID

ROWS_AT_ONCE = 64  # rows mixed together: each holds a (rows, vocabulary + new words) array


@dataclass
class Mixed:
    """The cache mixed into a batch of the model's distributions.

    probabilities (n, vocabulary): over the vocabulary, the new words inside the unknown
    symbol's class, each row summing to 1; new (n, len(words)): each new word's share
    (already inside probabilities[:, UNKNOWN_ID]); words: the new words, in column order."""

    probabilities: np.ndarray
    new: np.ndarray
    words: list[str]

    def new_words(self, row: int) -> dict[str, float]:
        """Row `row`'s new words with a probability above 0."""
        return {word: float(p) for word, p in zip(self.words, self.new[row]) if p > 0}


class ContinuousCache:
    """The last `settings.size` (hidden state, next word) pairs of the text read so far.

    Safe to share between threads: the server's learning thread adds while its model
    thread mixes, so what is kept changes only under the cache's lock."""

    def __init__(self, settings: CacheSettings, vocabulary_size: int):
        self._lock = threading.RLock()  # mix_and_add holds it across add
        self.settings = settings
        self.vocabulary_size = vocabulary_size
        self._empty()

    def _empty(self) -> None:
        self.hidden: np.ndarray | None = None  # (size, units) ring, float32
        # each position's key: a vocabulary id, or vocabulary_size + a new word's number
        self.keys = np.zeros(self.settings.size, np.int64)
        self.added = 0  # positions ever added; the ring's next slot is added % size
        self.words: list[str] = []  # new words by number
        self._numbers: dict[str, int] = {}

    def __len__(self) -> int:
        return min(self.added, self.settings.size)

    # ---------------------------------------------------------------- what is kept

    def memory(self) -> tuple[np.ndarray, np.ndarray]:
        """(hidden (m, units), keys (m,)) of the cached positions, oldest first."""
        with self._lock:
            return self._memory()

    def _memory(self) -> tuple[np.ndarray, np.ndarray]:
        m = len(self)
        if m == 0:
            return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
        order = (np.arange(self.added - m, self.added)) % self.settings.size
        return self.hidden[order], self.keys[order]

    def key_of(self, word: int | str) -> int:
        """A vocabulary id as it is; a new word's text -> its key (numbered on first sight)."""
        if isinstance(word, (int, np.integer)):
            return int(word)
        if word not in self._numbers:
            self._numbers[word] = len(self.words)
            self.words.append(word)
        return self.vocabulary_size + self._numbers[word]

    def add(self, hidden: np.ndarray, words: list[int | str]) -> list[str]:
        """Cache each hidden state (n, units) with the word that followed it (an id, or the
        text of a word outside the vocabulary); returns the new words seen for the first time
        among the cached ones."""
        hidden = np.asarray(hidden, np.float32).reshape(len(words), -1)
        with self._lock:
            return self._add(hidden, words)

    def _add(self, hidden: np.ndarray, words: list[int | str]) -> list[str]:
        if self.hidden is None:
            self.hidden = np.zeros((self.settings.size, hidden.shape[1]), np.float32)
        before = set(self.learned())
        for row, word in zip(hidden, words):
            slot = self.added % self.settings.size
            self.hidden[slot], self.keys[slot] = row, self.key_of(word)
            self.added += 1
        if len(self.words) > 2 * self.settings.size:
            self._forget_dropped_words()
        return [word for word in self.learned() if word not in before]

    def learned(self) -> Counter:
        """The new words in the cache, with how many cached positions each follows."""
        with self._lock:
            _, keys = self._memory()
            return Counter(self.words[k - self.vocabulary_size] for k in keys if k >= self.vocabulary_size)

    def forget(self) -> None:
        with self._lock:
            self._empty()

    def _forget_dropped_words(self) -> None:
        """Renumber the new words still cached, so the list stays as small as the ring."""
        kept = list(self.learned())
        old = dict(self._numbers)
        self.words, self._numbers = kept, {word: n for n, word in enumerate(kept)}
        remap = {self.vocabulary_size + old[w]: self.vocabulary_size + n for n, w in enumerate(kept)}
        self.keys = np.array([remap.get(int(k), int(k)) for k in self.keys], np.int64)

    # ---------------------------------------------------------------- mixing

    def mix(self, model_probabilities: np.ndarray, hidden: np.ndarray) -> Mixed:
        """The model's (n, vocabulary) distributions after (n, units) hidden states, with
        the whole cache mixed in."""
        with self._lock:  # the positions and the new words' list, as they stand together
            memory_hidden, memory_keys = self._memory()
            words = list(self.words)
        return self._mixed(model_probabilities, hidden, memory_hidden, memory_keys, None, words)

    def mix_and_add(self, model_probabilities: np.ndarray, hidden: np.ndarray, words: list) -> Mixed:
        """Rows of one running text in order: row i is mixed with the cache as it stood
        before it (earlier rows included, at most `size` positions back), then every row is
        added. A position is thus scored before the cache learns from it."""
        with self._lock:
            return self._mix_and_add(model_probabilities, hidden, words)

    def _mix_and_add(self, model_probabilities: np.ndarray, hidden: np.ndarray, words: list) -> Mixed:
        keys = np.array([self.key_of(word) for word in words], np.int64)
        memory_hidden, memory_keys = self._memory()
        hidden = np.asarray(hidden, np.float32)
        if memory_hidden.size == 0:
            memory_hidden = np.zeros((0, hidden.shape[1]), np.float32)
        m, n = len(memory_keys), len(keys)
        columns = np.arange(m + n)[None, :]
        position = m + np.arange(n)[:, None]  # each row's place in memory + rows
        visible = (columns < position) & (columns >= position - self.settings.size)
        everything = np.concatenate([memory_hidden, hidden]), np.concatenate([memory_keys, keys])
        mixed = self._mixed(model_probabilities, hidden, *everything, visible, list(self.words))
        self._add(hidden, list(words))
        return mixed

    def _mixed(self, model_probabilities, hidden, memory_hidden, memory_keys, visible, words: list[str]) -> Mixed:
        model_probabilities = np.asarray(model_probabilities, np.float64)
        n, width = len(model_probabilities), self.vocabulary_size + len(words)
        if len(memory_keys) == 0 or self.settings.mix == 0:
            return Mixed(model_probabilities.copy(), np.zeros((n, len(words))), words)
        # the dot products in float32, as the model computes the hidden states (half the time of float64)
        scores = self.settings.theta * (np.asarray(hidden, np.float32) @ np.asarray(memory_hidden, np.float32).T)
        scores = scores.astype(np.float64)  # (n, m)
        if visible is not None:
            scores = np.where(visible, scores, -np.inf)
        seen = np.isfinite(scores).any(axis=1)  # rows with a cached position to draw on
        scores[~seen] = 0.0
        weights = np.exp(scores - scores.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        share = np.where(seen, self.settings.mix, 0.0)[:, None]  # (n, 1)
        probabilities = model_probabilities * (1 - share)  # then the cache's share added in place, a block at a time
        new = np.empty((n, len(words)))
        for begin in range(0, n, ROWS_AT_ONCE):
            rows = slice(begin, begin + ROWS_AT_ONCE)
            count = len(weights[rows])
            flat = (np.arange(count)[:, None] * width + memory_keys[None, :]).ravel()
            cache = np.bincount(flat, weights[rows].ravel(), minlength=count * width).reshape(count, width)
            cache *= share[rows]
            probabilities[rows] += cache[:, : self.vocabulary_size]
            new[rows] = cache[:, self.vocabulary_size :]
        probabilities[:, UNKNOWN_ID] += new.sum(axis=1)  # the new words live in the unknown symbol's class
        return Mixed(probabilities, new, words)
