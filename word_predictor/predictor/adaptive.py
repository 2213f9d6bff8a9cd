"""A Predictor that learns from the text its user types: a continuous cache
(word_predictor.adaptation.cache) mixed into every answer, suggest, complete and generate
alike, and the words typed outside the vocabulary offered once the cache holds them.

    learn("i met zorblax at the market")     each finished word is cached with the hidden
                                              state of the text before it
    complete("then zor")                     ... zorblax, from the cache's share of the
                                              unknown symbol's probability

It reads through the predictor's hidden reader (Predictor.hidden_reader: the Keras hidden
view of adaptation.hidden, or the runtime's reader of the exported graph's "hidden" output):
its output is the logits with the hidden state appended, cut apart here. Nothing here
imports Keras; `for_model` builds the view where Keras is already loaded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from word_predictor.adaptation.cache import ContinuousCache, Mixed
from word_predictor.adaptation.segments import split
from word_predictor.adaptation.settings import CacheSettings
from word_predictor.predictor.predictor import Completions, Predictor, Suggestions
from word_predictor.scoring.figures import PROBABILITY_FLOOR, softmax
from word_predictor.text.vocabulary import UNKNOWN_ID

LEARNING_CONTEXT = 64  # tokens of the text already learned that the next words are read after


@dataclass
class _State:
    inner: object  # the reader's own state
    hidden: np.ndarray  # (rows, units) the hidden state after each row's text


class CachedReader:
    """The reader interface (start, advance, select) over a hidden view's reader: the
    logits it gives are the log of the cache's mixture; the state keeps the hidden rows."""

    def __init__(self, reader, cache: ContinuousCache, vocabulary_size: int):
        self.reader, self.cache, self.vocabulary_size = reader, cache, vocabulary_size

    def _cut(self, joined) -> tuple[np.ndarray, np.ndarray]:
        return split(joined, self.vocabulary_size)

    def read(self, contexts: list[np.ndarray]) -> tuple[Mixed, _State]:
        joined, state = self.reader.start(contexts)
        logits, hidden = self._cut(joined)
        return self._mixed(logits, hidden), _State(state, hidden)

    def _mixed(self, logits: np.ndarray, hidden: np.ndarray) -> Mixed:
        if hidden.shape[-1] == 0:  # a long text read layer by layer gives the logits alone: the model as is
            return Mixed(softmax(logits).astype(np.float64), np.zeros((len(logits), 0)), [])
        return self.cache.mix(softmax(logits), hidden)

    def start(self, contexts):
        mixed, state = self.read(contexts)
        return _logits(mixed.probabilities), state

    def advance(self, state: _State, next_ids):
        joined, inner = self.reader.advance(state.inner, next_ids)
        logits, hidden = self._cut(joined)
        return _logits(self._mixed(logits, hidden).probabilities), _State(inner, hidden)

    def select(self, state: _State, rows):
        return _State(self.reader.select(state.inner, rows), state.hidden[rows])

    def hidden_along(self, ids: np.ndarray, first: int = 0) -> np.ndarray:
        """(n,) ids -> (n - first, units): the hidden state after each prefix ids[: i + 1]
        for i >= first; the text up to `first` read in one call, then token by token (a
        full-context run's state carried, a window run's window re-read)."""
        joined, state = self.reader.start([ids[: first + 1]])
        rows = [self._cut(joined)[1][0]]
        for token in ids[first + 1 :]:
            joined, state = self.reader.advance(state, np.array([token]))
            rows.append(self._cut(joined)[1][0])
        return np.stack(rows)


def _logits(probabilities: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(probabilities, PROBABILITY_FLOOR)).astype(np.float32)


class AdaptivePredictor(Predictor):
    """A Predictor whose answers mix in what `learn` has cached (see the module docstring)."""

    def __init__(self, hidden_reader, config, vocabulary, settings: CacheSettings | None = None):
        super().__init__(hidden_reader, config, vocabulary)
        self.cache = ContinuousCache(settings or CacheSettings(), len(vocabulary))
        self._cached = CachedReader(self._engine, self.cache, len(vocabulary))
        self._engine = self._cached
        self._tail: list[str] = []  # the last tokens learned: the context the next ones are read after

    @classmethod
    def over(cls, predictor: Predictor, settings: CacheSettings | None = None) -> AdaptivePredictor:
        """A learner of its own over `predictor`'s model, on any engine that gives the hidden
        state (Predictor.hidden_reader; AdaptationUnavailable otherwise): many share one model."""
        return cls(predictor.hidden_reader(), predictor.config, predictor.vocabulary, settings)

    @classmethod
    def for_model(cls, model, config, vocabulary, settings: CacheSettings | None = None) -> AdaptivePredictor:
        return cls.over(Predictor.for_model(model, config, vocabulary), settings)

    @classmethod
    def from_run(cls, run, settings: CacheSettings | None = None) -> AdaptivePredictor:
        return cls.for_model(run.model, run.config, run.vocabulary, settings)

    # ---------------------------------------------------------------- learning

    def learn(self, text: str, last_word_finished: bool = True) -> list[str]:
        """Cache the words of `text`, read as the continuation of what was learned before;
        the last word only if `last_word_finished` (else it is still being typed). Returns
        the words outside the vocabulary picked up for the first time."""
        tokens = self.tokenize(text)
        return self.learn_tokens(tokens if last_word_finished else tokens[:-1])

    def learn_tokens(self, tokens: list[str]) -> list[str]:
        """`learn` for tokens the user has finished typing, read after what was learned
        before (or after the tokens `read_after` gave)."""
        if not tokens:
            return []
        running = self._tail + tokens
        if len(running) < 2:
            self._tail = running
            return []
        fresh = len(tokens) if self._tail else len(tokens) - 1  # the first word of all has no text before it
        # row j: the hidden state after running[: j + 1], keyed by the word after it, running[j + 1]
        hidden = self._cached.hidden_along(self.vocabulary.encode(running[:-1]), len(running) - 1 - fresh)
        # a known word by its id, one outside the vocabulary by its own text
        keys = [self.vocabulary.id_of(word) if word in self.vocabulary else word for word in running[-fresh:]]
        new = self.cache.add(hidden, keys)
        self._tail = running[-LEARNING_CONTEXT:]
        return new

    def read_after(self, tokens: list[str]) -> None:
        """Read the next tokens learned as following `tokens` rather than what was learned
        last (the user went back and typed something else); the cache keeps what it has."""
        self._tail = list(tokens[-LEARNING_CONTEXT:])

    def learned(self) -> Counter:
        """The words outside the vocabulary in the cache, with how often each was typed there."""
        return self.cache.learned()

    def forget(self) -> None:
        self.cache.forget()
        self._tail = []

    # ---------------------------------------------------------------- answers with the new words

    def _read(self, contexts: list[list[str]]) -> tuple[np.ndarray, list[dict[str, float]]]:
        """(probabilities (n, vocabulary), each row's new words and their probability)."""
        probabilities = softmax(np.tile(self.begin_logits, (len(contexts), 1)))
        new_words: list[dict[str, float]] = [{} for _ in contexts]
        rows = [i for i, context in enumerate(contexts) if context]
        if rows:
            mixed, _ = self._cached.read([self.vocabulary.encode(contexts[i]) for i in rows])
            probabilities[rows] = mixed.probabilities
            for number, row in enumerate(rows):
                new_words[row] = mixed.new_words(number)
        return probabilities, new_words

    def next_logits(self, contexts: list[list[str]]) -> np.ndarray:
        return _logits(self._read(contexts)[0])

    def _suggest(self, token_lists, k: int, include_unknown: bool) -> list[Suggestions]:
        contexts = [self.context_tokens(tokens) for tokens in token_lists]
        answers = []
        for context, probabilities, new in zip(contexts, *self._read(contexts)):
            best = self.top(probabilities, k, include_unknown)
            known = [(self.vocabulary.tokens[i], float(probabilities[i])) for i in best]
            if include_unknown and new:  # the unknown symbol's class, less the new words shown beside it
                unknown = self.vocabulary.tokens[UNKNOWN_ID]
                known = [(w, p - sum(new.values()) if w == unknown else p) for w, p in known]
            ranked = sorted(known + list(new.items()), key=lambda pair: -pair[1])[:k]
            answers.append(Suggestions(context, self.unknown(context), ranked))
        return answers

    def _complete_words(self, token_lists, k: int) -> list[Completions]:
        prefixes = [tokens[-1] if tokens else "" for tokens in token_lists]
        contexts = [self.context_tokens(tokens[:-1]) for tokens in token_lists]
        answers = []
        for context, prefix, probabilities, new in zip(contexts, prefixes, *self._read(contexts)):
            shown = self.keyboard.completions(probabilities, prefix, k, extra=new)
            answers.append(Completions(context, prefix, self.unknown(context), shown))
        return answers
