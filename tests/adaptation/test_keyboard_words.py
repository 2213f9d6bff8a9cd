"""The keyboard with the words a user typed that the vocabulary lacks (scoring.keyboard)."""

from __future__ import annotations

import numpy as np
import pytest

from word_predictor.scoring.keyboard import PrefixIndex

TOKENS = ("<unk>", "the", "then", "to", "cat", "car")
PROBABILITIES = np.array([0.3, 0.25, 0.05, 0.2, 0.1, 0.1])


def test_completions_offer_the_new_words_beside_the_known_ones():
    index = PrefixIndex(TOKENS)
    shown = index.completions(PROBABILITIES, "th", 3, extra={"thorvald": 0.1, "zorblax": 0.2, "the": 0.9})
    # "the" among the extra words is the vocabulary's own and keeps its probability
    assert shown == [("the", pytest.approx(0.25 / 0.4)), ("thorvald", pytest.approx(0.1 / 0.4)),
                     ("then", pytest.approx(0.05 / 0.4))]  # fmt: skip
    assert index.completions(PROBABILITIES, "zo", 3, extra={"zorblax": 0.2}) == [("zorblax", 1.0)]
    assert index.completions(PROBABILITIES, "zo", 3) == []


def test_a_new_word_costs_its_letters_until_the_keyboard_offers_it():
    index = PrefixIndex(TOKENS)
    assert index.cost_of_word(PROBABILITIES, "zorblax", {}) == 7  # never offered
    assert index.cost_of_word(PROBABILITIES, "zorblax", {"zorblax": 0.01}) == 2  # "z" then a pick
    assert index.cost_of_word(PROBABILITIES, "zorblax", {"zorblax": 0.5}) == 1  # among the first three


def test_a_known_word_pushed_down_by_new_words_costs_more():
    index = PrefixIndex(TOKENS)
    alone = index.cost_of_word(PROBABILITIES, "cat", {})
    assert alone == index.keystrokes(PROBABILITIES[None], np.array([4])).costs[0]  # as the vectorised count
    crowded = {"cab": 0.3, "cad": 0.3, "cam": 0.3, "caz": 0.3}
    assert index.cost_of_word(PROBABILITIES, "cat", crowded) > alone


@pytest.mark.parametrize("seed", range(5))
def test_the_rows_the_new_words_change_are_costed_as_every_row_costed_one_by_one(seed):
    """scoring._with_new_words skips rows new words cannot change and the new words that
    cannot rank before the word: it must give the costs of costing every row with all of them."""
    from word_predictor.adaptation.cache import Mixed
    from word_predictor.adaptation.scoring import _with_new_words

    rng = np.random.default_rng(seed)
    tokens = ("<unk>", "the", "then", "they", "to", "top", "cat", "car", "cart", "a", "an", "and")
    new_words = ["thorvald", "tobble", "carrow", "zorblax", "anwen"]
    index = PrefixIndex(tokens)  # as scoring reads it
    rows = 40
    model = rng.dirichlet(np.full(len(tokens), 0.3), size=rows)
    new = rng.dirichlet(np.full(len(new_words), 0.5), size=rows) * model[:, :1] * rng.random((rows, 1))
    new[rng.random(new.shape) < 0.3] = 0.0  # some new words not (yet) visible to a row
    targets = rng.integers(0, len(tokens), rows)
    written = [rng.choice(new_words + ["qwerty"]) if t == 0 else tokens[t] for t in targets]
    mixed = Mixed(model, new, new_words)
    lengths = np.array([len(word) for word in written])
    plain = index.keystrokes(model, targets, lengths)
    expected = [index.cost_of_word(model[row], written[row], mixed.new_words(row)) for row in range(rows)]
    assert _with_new_words(index, mixed, targets, written, plain).costs.tolist() == expected
