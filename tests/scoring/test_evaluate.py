"""scoring.evaluate: a split scored through a reader of known probabilities, the read-ahead
that keeps the model busy while NumPy scores, and the figures as evaluate prints them."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from word_predictor.corpus.splits import Split
from word_predictor.scoring.evaluate import NothingToScore, format_scores, read_ahead, score
from word_predictor.text.vocabulary import Vocabulary


class FixedReader:
    """Scores every token after the first of each segment with one fixed distribution."""

    def __init__(self, probabilities):
        self.logits = np.log(np.asarray(probabilities, np.float64))

    def scored(self, split: Split, batch_size: int = 1024):
        targets = np.concatenate([split.ids[start + 1 : end] for start, end in split.bounds])
        for begin in range(0, targets.size, batch_size):
            batch = targets[begin : begin + batch_size]
            yield np.tile(self.logits, (batch.size, 1)), batch


def test_the_figures_are_those_of_the_probabilities_the_reader_gives():
    reader = FixedReader([0.1, 0.5, 0.25, 0.15])  # <unk>, then ids 1..3
    split = Split.from_lengths(np.array([1, 1, 2, 3, 2], np.int32), [5])  # targets 1 2 3 2
    figures = score(reader, split, batch_size=3)
    loss = -(math.log(0.5) + 2 * math.log(0.25) + math.log(0.15)) / 4
    assert figures["tokens"] == 4 and figures["perplexity"] == pytest.approx(math.exp(loss))
    assert figures["top1"] == pytest.approx(0.25) and figures["top3"] == 1.0  # ranks 0, 1, 2, 1
    assert "keystroke_savings" not in figures


def test_with_the_vocabulary_a_word_run_also_reports_keystrokes_saved():
    vocabulary = Vocabulary(tokens=("<unk>", "the", "then", "cat"), counts=(0, 5, 3, 2), unknown_threshold=0)
    reader = FixedReader([0.1, 0.5, 0.25, 0.15])
    figures = score(reader, Split.from_lengths(np.array([1, 3, 3, 1], np.int32), [4]), vocabulary=vocabulary)
    assert 0 < figures["keystroke_savings"] <= 1


def test_a_split_without_a_target_is_refused():
    with pytest.raises(NothingToScore, match="no target"):
        score(FixedReader([0.5, 0.5]), Split.from_lengths(np.array([1, 1], np.int32), [1, 1]))


def test_read_ahead_keeps_the_order_and_makes_items_off_the_callers_thread():
    made_on = []

    def items():
        for number in range(5):
            made_on.append(threading.get_ident())
            yield number

    assert list(read_ahead(items())) == [0, 1, 2, 3, 4]
    assert threading.get_ident() not in made_on


def test_read_ahead_passes_an_error_on_to_the_caller():
    def failing():
        yield 1
        raise RuntimeError("the model failed")

    with pytest.raises(RuntimeError, match="the model failed"):
        list(read_ahead(failing()))


def test_the_printed_figures_name_bits_per_character_for_a_character_run():
    figures = {"tokens": 1234, "unknown_rate": 0.01, "perplexity": 3.5, "top1": 0.5, "top3": 0.7, "top5": 0.8,
               "known_top1": 0.5, "known_top5": 0.8, "known_tokens": 1200, "bits_per_character": 1.807}  # fmt: skip
    shown = format_scores(figures)
    assert "tokens evaluated:  1,234 (1.0% unknown)" in shown and "perplexity:        3.50" in shown
    assert "bits per character: 1.807" in shown and "keystrokes saved" not in shown
