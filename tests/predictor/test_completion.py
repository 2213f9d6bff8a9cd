"""predictor.completion: the word being typed, and the character beam against an exhaustive
search, over a fake reader with known probabilities (as flax's sampler test injects its
tokens_to_logits): no model needed."""

from __future__ import annotations

import itertools
import math

import numpy as np

from word_predictor.predictor.completion import CharacterBeam, typed_word
from word_predictor.scoring.figures import softmax
from word_predictor.text.vocabulary import Vocabulary

VOCABULARY = Vocabulary.from_counts({" ": 9, "a": 8, "b": 7, "r": 6, ".": 5}, 0, level="char")
RNG = np.random.default_rng(4)
TABLE = RNG.normal(size=(len(VOCABULARY), len(VOCABULARY))) * 2  # logits of the next id given the last id


class LastTokenReader:
    """The next token depends on the last one only: state = the last ids."""

    def start(self, contexts):
        last = np.array([context[-1] for context in contexts])
        return TABLE[last], last

    def advance(self, state, next_ids):
        return TABLE[np.asarray(next_ids)], np.asarray(next_ids)

    @staticmethod
    def select(state, rows):
        return state[rows]


def exact_words(context: str, prefix: str, longest: int) -> dict[str, float]:
    """Every word up to `longest` more characters, with its probability of being the word typed."""
    letters = [t for t in VOCABULARY.tokens[1:] if t.isalnum()]
    boundary = [i for i, t in enumerate(VOCABULARY.tokens) if i and not t.isalnum()]
    found = {}
    for length in range(0 if prefix else 1, longest + 1):
        for added in itertools.product(letters, repeat=length):
            last, p = VOCABULARY.id_of(context[-1]), 1.0
            for character in added:
                p *= softmax(TABLE[last])[VOCABULARY.id_of(character)]
                last = VOCABULARY.id_of(character)
            found[prefix + "".join(added)] = p * softmax(TABLE[last])[boundary].sum()
    return found


def test_a_wide_beam_finds_the_exact_likeliest_words_and_their_probabilities():
    context = "ab ba"
    beam = CharacterBeam(LastTokenReader(), VOCABULARY, np.zeros(len(VOCABULARY)))
    found = beam.complete(list(context), typed_word(list(context)), 4, width=64, longest=4)
    exact = sorted(exact_words(context, "ba", 4).items(), key=lambda item: -item[1])[:4]
    assert [word for word, _ in found] == [word for word, _ in exact]
    for (_, p_beam), (_, p_exact) in zip(found, exact):
        assert math.isclose(p_beam, p_exact, rel_tol=1e-9)


def test_after_a_space_the_next_word_is_completed_from_nothing():
    context = "ab "
    beam = CharacterBeam(LastTokenReader(), VOCABULARY, np.zeros(len(VOCABULARY)))
    found = beam.complete(list(context), "", 3, width=64, longest=3)
    exact = sorted(exact_words(context, "", 3).items(), key=lambda item: -item[1])[:3]
    assert [word for word, _ in found] == [word for word, _ in exact] and all(found_word for found_word, _ in found)


def test_the_word_being_typed_is_the_letters_after_the_last_boundary():
    assert typed_word(list("the gar")) == "gar"
    assert typed_word(list("the ")) == "" and typed_word([]) == ""
    assert typed_word(list("don't")) == "don't"
