"""Keystroke savings on a keyboard showing the likeliest words, and prefix completions.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from word_predictor import scoring
from word_predictor.scoring.figures import Tally
from word_predictor.scoring.keyboard import Keystrokes, PrefixIndex


# A keyboard vocabulary of 6 tokens; alphabetically: <unk>, car, cat, the, then, to.
TOKENS = ("<unk>", "the", "then", "to", "cat", "car")


#                      <unk>   the   then   to   cat   car
P_MOST = np.array([0.30, 0.25, 0.05, 0.20, 0.15, 0.05])


P_TO_UNLIKELY = np.array([0.30, 0.30, 0.20, 0.01, 0.10, 0.09])


def test_keystrokes_on_a_hand_worked_keyboard():
    # The keyboard shows the 3 most probable words (never <unk>) that start with what
    # has been typed; ties go to the lower id.
    # "then" (P_MOST, 4 letters): nothing typed -> the .25, to .20, cat .15; "t" -> the,
    #   to, then (only 3 words start with t): shown after 1 letter, cost 1 + 1 = 2, saves 2.
    # "car" (P_MOST, 3): "" -> the, to, cat; "c" -> cat, car: cost 2, saves 1.
    # "cat" (P_MOST, 3): shown before any letter: cost 1, saves 2.
    # "to" (P_TO_UNLIKELY, 2): "" -> the .30, then .20, cat .10; "t" -> shown, cost
    #   1 + 1 = 2 = its length, saves 0.
    # <unk> written as a 7-letter word: never suggested, cost 7, saves 0.
    probabilities = np.stack([P_MOST, P_MOST, P_MOST, P_TO_UNLIKELY, P_MOST])
    targets = np.array([2, 5, 4, 3, 0])
    index = PrefixIndex(TOKENS)
    with_unknown = index.keystrokes(probabilities, targets, word_lengths=np.array([4, 3, 3, 2, 7]))
    assert with_unknown.costs.tolist() == [2, 2, 1, 2, 7]
    assert with_unknown.letters.tolist() == [4, 3, 3, 2, 7]
    known_only = index.keystrokes(probabilities, targets)
    assert known_only.letters.tolist() == [4, 3, 3, 2, 0]
    tally = Tally()
    tally.add(np.zeros(5), np.zeros(5, int), targets, with_unknown)
    assert tally.summary()["keystroke_savings"] == pytest.approx(5 / 19)
    tally = Tally()
    tally.add(np.zeros(5), np.zeros(5, int), targets, known_only)
    assert tally.summary()["keystroke_savings"] == pytest.approx(5 / 12)


def test_a_tie_goes_to_the_lower_id_on_the_keyboard_too():
    # Every word equally likely: the keyboard shows the 3 lowest ids among the prefix's words.
    uniform = np.full((2, 6), 1 / 6)
    costs = PrefixIndex(TOKENS).keystrokes(uniform, np.array([4, 5])).costs
    # cat (id 4): "" -> the, then, to; "c" -> cat, car: cost 2. car (id 5) likewise 2.
    assert costs.tolist() == [2, 2]


def test_a_model_that_never_suggests_the_word_saves_nothing():
    tokens = ("<unk>", "ab", "abc", "abd", "abe", "b")
    probabilities = np.array([[0.0, 0.3, 0.3, 0.3, 0.0, 0.1]])  # abe comes last after "ab" too
    keys = PrefixIndex(tokens).keystrokes(probabilities, np.array([4]))
    assert keys.costs.tolist() == [3]  # shown only once "abe" is typed in full
    tally = Tally()
    tally.add(np.zeros(1), np.zeros(1, int), np.array([4]), keys)
    assert tally.summary()["keystroke_savings"] == 0.0


def slow_keystroke_cost(tokens, probabilities, target, word_length, shown=3):
    """The definition, word by word: the reference the vectorised code must match."""
    if target == 0:
        return word_length
    word = tokens[target]
    for typed in range(len(word)):
        candidates = [i for i in range(1, len(tokens)) if tokens[i].startswith(word[:typed])]
        if target in sorted(candidates, key=lambda i: (-probabilities[i], i))[:shown]:
            return typed + 1
    return len(word)


@st.composite
def keyboards(draw):
    words = draw(st.lists(st.text("abc", min_size=1, max_size=5), min_size=1, max_size=14, unique=True))
    tokens = ("<unk>", *words)
    n = draw(st.integers(1, 8))
    # Few distinct values, so ties are common.
    values = st.lists(st.sampled_from([0.0, 0.05, 0.1, 0.2, 0.4]), min_size=len(tokens), max_size=len(tokens))
    probabilities = np.array(draw(st.lists(values, min_size=n, max_size=n)))
    targets = np.array(draw(st.lists(st.integers(0, len(words)), min_size=n, max_size=n)))
    lengths = np.array(draw(st.lists(st.integers(1, 9), min_size=n, max_size=n)))
    shown = draw(st.integers(1, 4))
    return tokens, probabilities, targets, lengths, shown


@settings(max_examples=300, deadline=None)
@given(keyboards(), st.integers(1, 3))
def test_keystrokes_match_the_definition(keyboard, rows_at_once):
    tokens, probabilities, targets, lengths, shown = keyboard
    keys = PrefixIndex(tokens).keystrokes(probabilities, targets, lengths, shown, rows_at_once)
    expected = [
        slow_keystroke_cost(tokens, row, target, length, shown)
        for row, target, length in zip(probabilities, targets, lengths)
    ]
    assert keys.costs.tolist() == expected
    assert keys.letters.tolist() == [n if t == 0 else len(tokens[t]) for t, n in zip(targets, lengths)]
    assert np.all((1 <= keys.costs) & (keys.costs <= keys.letters))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text("ab-'", min_size=1, max_size=4), min_size=1, max_size=12, unique=True),
       st.text("ab", max_size=3))
def test_prefix_range_holds_exactly_the_words_with_the_prefix(words, prefix):
    index = PrefixIndex(("<unk>", *words))
    lo, hi = index.prefix_range(prefix)
    found = sorted(index.tokens[i] for i in index.order[lo:hi])
    assert found == sorted(t for t in index.tokens if t.startswith(prefix))


def test_completions_renormalise_over_the_prefix():
    (first, p_first), (second, p_second) = scoring.completions(P_MOST, TOKENS, "th", 5)
    assert (first, second) == ("the", "then")
    assert p_first == pytest.approx(0.25 / 0.30) and p_second == pytest.approx(0.05 / 0.30)
    everything = scoring.completions(P_MOST, TOKENS, "", 2)  # <unk> is never offered
    assert [word for word, _ in everything] == ["the", "to"]
    assert everything[0][1] == pytest.approx(0.25 / 0.70)
    assert scoring.completions(P_MOST, TOKENS, "x", 3) == []
    assert scoring.completions(P_MOST, TOKENS, "<", 3) == []  # only <unk> starts with "<"
    assert scoring.completions(np.zeros(6), TOKENS, "ca", 3) == [("cat", 0.5), ("car", 0.5)]


def test_keystrokes_is_a_pair_of_arrays():
    keys = PrefixIndex(TOKENS).keystrokes(P_MOST[None, :], np.array([1]))
    assert isinstance(keys, Keystrokes) and keys.costs.tolist() == [1] and keys.letters.tolist() == [3]



def test_keystrokes_match_the_definition_on_a_vocabulary_of_hundreds():
    # Each row's counts are taken over its first letter's range only: a vocabulary large
    # enough that those ranges are many and long, distributions as peaked as a model's
    # (so most targets need letters typed), and a few rows with ties.
    rng = np.random.default_rng(7)
    words = {"".join(rng.choice(list("abcdefg"), rng.integers(1, 8))) for _ in range(600)}
    tokens = ("<unk>", *sorted(words, key=lambda word: rng.random()))
    logits = rng.normal(0, 3, (96, len(tokens)))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    probabilities[:8] = np.round(probabilities[:8], 3)  # ties
    targets = rng.integers(0, len(tokens), 96)
    lengths = rng.integers(1, 9, 96)
    keys = PrefixIndex(tokens).keystrokes(probabilities, targets, lengths)
    expected = [slow_keystroke_cost(tokens, row, target, length)
                for row, target, length in zip(probabilities, targets, lengths)]  # fmt: skip
    assert keys.costs.tolist() == expected
    assert (keys.costs > 1).sum() > 48  # most targets were found after letters, not before
