"""scoring.figures: ranks, top-k, perplexity and the Tally that adds batches into evaluate's figures.

A figure over an empty set is absent (None, "n/a"), never a number (0 or NaN).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from word_predictor import scoring
from word_predictor.scoring.evaluate import format_scores
from word_predictor.scoring.figures import Tally, share
from word_predictor.scoring.keyboard import Keystrokes

# Probabilities over the keyboard vocabulary of tests/scoring/test_keyboard.py:
#                  <unk>   the   then   to   cat   car
P_MOST = np.array([0.30, 0.25, 0.05, 0.20, 0.15, 0.05])


def test_perplexity_and_bits():
    assert scoring.perplexity(2.0) == pytest.approx(math.exp(2.0))
    assert scoring.perplexity(709.0) == pytest.approx(math.exp(709.0))  # no early cut-off
    assert scoring.perplexity(710.0) == math.inf
    assert scoring.bits_per_token(math.log(2)) == pytest.approx(1.0)
    assert scoring.bits_per_token(math.log(256)) == pytest.approx(8.0)


def test_target_ranks_count_strictly_more_probable_tokens():
    probabilities = np.array([[0.1, 0.6, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25]])
    assert scoring.target_ranks(probabilities, np.array([0, 3])).tolist() == [2, 0]
    assert scoring.target_ranks(probabilities, np.array([1, 0])).tolist() == [0, 0]


def test_top_k_skips_the_unknown_symbol_and_breaks_ties_by_id():
    assert scoring.top_k(P_MOST, 3) == [1, 3, 4]  # <unk> (0.30) is skipped
    assert scoring.top_k(P_MOST, 5) == [1, 3, 4, 2, 5]  # then and car tie at 0.05: lower id first
    assert scoring.top_k(P_MOST, 2, exclude=()) == [0, 1]
    assert scoring.top_k(P_MOST, 10) == [1, 3, 4, 2, 5]  # only 5 ids are not excluded
    assert scoring.top_k(P_MOST, 0) == []
    assert scoring.top_k(np.full(6, 1 / 6), 4, exclude=(0, 2)) == [1, 3, 4, 5]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([0.0, 0.1, 0.2, 0.3]), min_size=1, max_size=12), st.integers(0, 14))
def test_top_k_is_a_stable_sort(values, k):
    probabilities = np.array(values)
    expected = [i for i in sorted(range(len(values)), key=lambda i: (-values[i], i)) if i != 0][:k]
    assert scoring.top_k(probabilities, k) == expected


def test_tally_adds_batches_into_the_evaluate_figures():
    # [<unk>, a, b, c] = [.1, .6, .2, .1]; targets b (rank 1) and <unk> (rank 2).
    probabilities = np.tile([0.1, 0.6, 0.2, 0.1], (3, 1))
    targets = np.array([2, 0, 1])
    whole, split = Tally(), Tally()
    log_p = scoring.target_log_probabilities(probabilities, targets)
    ranks = scoring.target_ranks(probabilities, targets)
    whole.add(log_p, ranks, targets)
    split.add(log_p[:2], ranks[:2], targets[:2])
    split.add(log_p[2:], ranks[2:], targets[2:])
    figures = whole.summary()
    assert figures == split.summary()
    loss = -(math.log(0.2) + math.log(0.1) + math.log(0.6)) / 3
    assert figures["loss"] == pytest.approx(loss)
    assert figures["perplexity"] == pytest.approx(math.exp(loss))
    assert figures["bits_per_token"] == pytest.approx(loss / math.log(2))
    assert figures["tokens"] == 3 and figures["known_tokens"] == 2
    assert figures["top1"] == pytest.approx(1 / 3) and figures["top3"] == 1.0 and figures["top5"] == 1.0
    assert figures["known_top1"] == 0.5 and figures["known_top5"] == 1.0
    assert figures["known_top3"] == 1.0
    assert figures["unknown_rate"] == pytest.approx(1 / 3)
    assert "keystroke_savings" not in figures


def test_a_zero_probability_has_a_finite_log():
    log_p = scoring.target_log_probabilities(np.array([[0.0, 1.0]]), np.array([0]))
    assert log_p[0] == pytest.approx(math.log(scoring.PROBABILITY_FLOOR))


def test_an_empty_tally_says_so():
    with pytest.raises(ValueError, match="no targets"):
        Tally().summary()


# ---------------------------------------------------------------- figures over empty sets


def only_unknown_targets() -> Tally:
    tally = Tally(unknown_id=0)
    targets = np.zeros(4, np.int64)  # every target is the unknown symbol
    no_letters = Keystrokes(costs=np.zeros(4, np.int64), letters=np.zeros(4, np.int64))
    tally.add(np.log(np.full(4, 0.5)), np.array([0, 1, 2, 7]), targets, no_letters)
    return tally


def test_known_figures_over_no_known_target_are_none():
    figures = only_unknown_targets().summary()
    assert figures["known_tokens"] == 0
    assert figures["known_top1"] is None and figures["known_top3"] is None and figures["known_top5"] is None
    assert figures["keystroke_savings"] is None
    # figures over every target still count: 4 targets, ranks 0, 1, 2, 7
    assert figures["top1"] == 0.25 and figures["top3"] == 0.75 and figures["top5"] == 0.75


def test_the_text_shows_n_a_and_says_why():
    shown = format_scores(only_unknown_targets().summary())
    assert "known top-1:       n/a" in shown and "known top-5:       n/a" in shown
    assert "keystrokes saved:  n/a" in shown
    assert "0.00%" not in shown
    assert "every target is the unknown symbol" in shown


def test_known_figures_are_numbers_when_known_targets_exist():
    tally = Tally(unknown_id=0)
    tally.add(np.log(np.full(2, 0.5)), np.array([0, 3]), np.array([0, 5]))
    figures = tally.summary()
    assert figures["known_top1"] == 0.0 and figures["known_top5"] == 1.0
    assert "every target is the unknown symbol" not in format_scores(figures)


def test_share_of_nothing_is_none():
    assert share(0, 0) is None and share(1, 4) == 0.25
