"""A figure over an empty set is absent (None, "n/a"), never a number (0 or NaN)."""

from __future__ import annotations

import numpy as np

from word_predictor.scoring.evaluate import format_scores
from word_predictor.scoring.figures import Tally, share
from word_predictor.scoring.keyboard import Keystrokes


def _only_unknown_targets() -> Tally:
    tally = Tally(unknown_id=0)
    targets = np.zeros(4, np.int64)  # every target is the unknown symbol
    no_letters = Keystrokes(costs=np.zeros(4, np.int64), letters=np.zeros(4, np.int64))
    tally.add(np.log(np.full(4, 0.5)), np.array([0, 1, 2, 7]), targets, no_letters)
    return tally


def test_known_figures_over_no_known_target_are_none():
    figures = _only_unknown_targets().summary()
    assert figures["known_tokens"] == 0
    assert figures["known_top1"] is None and figures["known_top3"] is None and figures["known_top5"] is None
    assert figures["keystroke_savings"] is None
    # figures over every target still count: 4 targets, ranks 0, 1, 2, 7
    assert figures["top1"] == 0.25 and figures["top3"] == 0.75 and figures["top5"] == 0.75


def test_the_text_shows_n_a_and_says_why():
    shown = format_scores(_only_unknown_targets().summary())
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
