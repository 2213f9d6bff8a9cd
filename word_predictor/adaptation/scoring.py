"""Scoring a text with adaptation, beside the same text without: evaluate --adapt.

The text is read in order, a segment at a time (segments.py); each segment is scored
with what was learned from the text before it, and only then learned from (the cache
takes its positions, dynamic evaluation a step), so the figures stay honest.

Both figures are over the vocabulary's tokens, the unknown symbol a class of its own:
the adapted probability of a target outside the vocabulary is that of the class, which
holds the cache's new words, so the perplexities compare. Keystroke savings, when the
words of the text are known (a text given as files), count every word: one outside the
vocabulary costs its length, unless the adapted keyboard offers it (it was cached).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from word_predictor.adaptation.cache import ContinuousCache, Mixed
from word_predictor.adaptation.segments import segment_reader, split as cut
from word_predictor.adaptation.settings import CacheSettings, DynamicSettings
from word_predictor.corpus.splits import Split
from word_predictor.errors import AdaptationUnavailable
from word_predictor.scoring.figures import Tally, softmax, target_log_probabilities, target_ranks
from word_predictor.scoring.keyboard import Keystrokes, PrefixIndex
from word_predictor.text.vocabulary import UNKNOWN_ID

# Tokens a segment when the weights stay as they are (no dynamic evaluation): the cache
# scores each row with the rows before it in its segment, so the length changes the speed alone.
READING_SEGMENT = 512


@dataclass(frozen=True)
class Adaptation:
    """What adapts: a cache, dynamic evaluation, or both (None: that one is off)."""

    cache: CacheSettings | None = None
    dynamic: DynamicSettings | None = None

    @property
    def segment(self) -> int:
        return self.dynamic.segment if self.dynamic else READING_SEGMENT

    def __bool__(self) -> bool:
        return self.cache is not None or self.dynamic is not None


def score_adapted(predictor, split: Split, adaptation: Adaptation, words: list[str] | None = None):
    """(figures without adaptation, figures with it) over every target of `split`, read in
    order through `predictor`'s hidden reader (Predictor.hidden_reader: any engine that gives
    the hidden state; AdaptationUnavailable otherwise); `words`: the text's tokens as
    written, aligned with split.ids (for keystrokes on words outside the vocabulary), or
    None. Dynamic evaluation needs a Keras predictor; its model is left as it was trained."""
    dynamic = None
    if adaptation.dynamic:
        from word_predictor.adaptation.dynamic import DynamicEvaluation  # Keras: only for dynamic evaluation

        if not hasattr(predictor.reader.model, "trainable_variables"):
            raise AdaptationUnavailable("dynamic evaluation changes the model's weights: it needs the Keras model")
        dynamic = DynamicEvaluation(predictor.reader.model, adaptation.dynamic)
    try:
        if dynamic is None:  # the model never changes: one pass gives both
            return _read(predictor, split, adaptation, words, None)
        plain, _ = _read(predictor, split, Adaptation(), words, None)
        _, adapted = _read(predictor, split, adaptation, words, dynamic)
        return plain, adapted
    finally:
        if dynamic is not None:
            dynamic.restore()


def _read(predictor, split: Split, adaptation: Adaptation, words, dynamic) -> tuple[dict, dict]:
    vocabulary = predictor.vocabulary
    # the hidden reader's view: the Keras hidden view, or the exported graph asked for its hidden output
    reader = segment_reader(predictor.hidden_reader().model, predictor.config)
    keyboard = PrefixIndex(vocabulary.tokens) if vocabulary.tokenizer.unit == "word" else None
    cache = ContinuousCache(adaptation.cache, len(vocabulary)) if adaptation.cache else None
    plain, adapted = Tally(), Tally()
    for segment in reader.segments(split, adaptation.segment):
        if segment.targets.size == 0:
            continue
        logits, hidden = cut(segment.joined, len(vocabulary))
        probabilities = softmax(logits)
        written = [words[p] for p in segment.positions] if words is not None else None
        _add(plain, keyboard, Mixed(probabilities, np.zeros((len(logits), 0)), []), segment.targets, written)
        if cache is not None:
            keys = [_key(vocabulary, t, w) for t, w in zip(segment.targets, written or [None] * len(logits))]
            mixed = cache.mix_and_add(probabilities, hidden, keys)
        else:
            mixed = Mixed(probabilities, np.zeros((len(logits), 0)), [])
        _add(adapted, keyboard, mixed, segment.targets, written)
        if dynamic is not None:
            dynamic.learn(segment.inputs, segment.step_targets)
    return _summary(plain, vocabulary), _summary(adapted, vocabulary)


def _key(vocabulary, target: int, written: str | None) -> int | str:
    """A known word by its id; one outside the vocabulary by its text where it is known."""
    return written if target == UNKNOWN_ID and written is not None else int(target)


def _add(tally: Tally, keyboard: PrefixIndex | None, mixed: Mixed, targets: np.ndarray, written) -> None:
    probabilities = mixed.probabilities
    keystrokes = None
    if keyboard is not None:
        lengths = None if written is None else np.array([len(w) for w in written], np.int64)
        keystrokes = keyboard.keystrokes(probabilities, targets, lengths)
        if written is not None and mixed.words:
            keystrokes = _with_new_words(keyboard, mixed, targets, written, keystrokes)
    tally.add(target_log_probabilities(probabilities, targets), target_ranks(probabilities, targets), targets,
              keystrokes)  # fmt: skip


def _with_new_words(keyboard: PrefixIndex, mixed: Mixed, targets, written, keystrokes: Keystrokes):
    """The rows the new words change, costed one by one: a new word typed (offered once
    cached), or a known word that a new word more probable than it may push down."""
    costs = keystrokes.costs.copy()
    chosen = mixed.probabilities[np.arange(len(targets)), targets]
    best_new = mixed.new.max(axis=1)
    lengths = np.array([len(word) for word in written])
    column = {word: i for i, word in enumerate(mixed.words)}
    offered = np.array([written[row] in column and mixed.new[row, column[written[row]]] > 0
                        if target == UNKNOWN_ID else True for row, target in enumerate(targets)])  # fmt: skip
    costs[(targets == UNKNOWN_ID) & ~offered] = lengths[(targets == UNKNOWN_ID) & ~offered]  # never offered
    # A new word only adds rivals to a known word: one that costs its whole length already costs no more.
    pushed = (targets != UNKNOWN_ID) & (best_new >= chosen) & (costs < lengths)
    for row in np.flatnonzero(((targets == UNKNOWN_ID) & offered) | pushed):
        own = chosen[row] if targets[row] != UNKNOWN_ID else mixed.new[row, column[written[row]]]
        # only the new words that can rank before the word count (and the word itself, when new)
        extra = {mixed.words[i]: float(mixed.new[row, i]) for i in np.flatnonzero(mixed.new[row] >= max(own, 1e-300))}
        start = int(costs[row]) - 1 if targets[row] != UNKNOWN_ID else 0  # before its own cost, it was not offered
        costs[row] = keyboard.cost_of_word(mixed.probabilities[row], written[row], extra, start=start)
    return Keystrokes(costs=costs, letters=keystrokes.letters)


def _summary(tally: Tally, vocabulary) -> dict:
    figures = tally.summary()
    figures[f"bits_per_{vocabulary.tokenizer.unit}"] = figures["bits_per_token"]
    return figures
