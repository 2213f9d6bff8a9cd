"""scoring.reading: which windows a split holds, how a context is cut to a window, and the
window reader over a model that answers predict_on_batch (no Keras needed)."""

from __future__ import annotations

import numpy as np

from word_predictor.config import Config
from word_predictor.corpus.splits import Split
from word_predictor.scoring.reading import (
    WindowReader,
    crop_context,
    gather_windows,
    pair_counts,
    window_starts,
)
from word_predictor.text.vocabulary import UNKNOWN_ID

VOCABULARY = 20


class LastAndLength:
    """A model whose logits name the last id of each row and how many ids the row held;
    it records the shapes it was asked for, to show how contexts are grouped."""

    def __init__(self):
        self.shapes: list[tuple[int, ...]] = []

    def predict_on_batch(self, batch):
        batch = np.asarray(batch)
        self.shapes.append(batch.shape)
        logits = np.zeros((len(batch), VOCABULARY), np.float32)
        logits[np.arange(len(batch)), batch[:, -1]] = 1.0
        logits[:, -1] = batch.shape[1]  # the last column: the length the model read
        return logits


def test_window_starts_fit_a_window_and_its_target_inside_one_segment():
    bounds = np.array([[0, 6], [6, 8], [8, 12]])  # 6 tokens, 2 tokens (no window of 3 fits), 4 tokens
    assert window_starts(bounds, 3).tolist() == [0, 1, 2, 8]
    assert window_starts(np.array([[0, 3]]), 3).size == 0  # a window but no token after it


def test_gather_windows_gives_each_window_and_the_token_after_it():
    ids = np.arange(10, 20)
    np.testing.assert_array_equal(gather_windows(ids, np.array([0, 4]), 3), [[10, 11, 12, 13], [14, 15, 16, 17]])


def test_a_context_is_cut_to_its_last_window_and_padded_only_when_asked():
    assert crop_context(np.array([1, 2, 3, 4, 5]), 3, pad=False).tolist() == [3, 4, 5]
    assert crop_context(np.array([4, 5]), 3, pad=False).tolist() == [4, 5]
    assert crop_context(np.array([4, 5]), 3, pad=True).tolist() == [UNKNOWN_ID, 4, 5]


def test_the_reader_groups_contexts_by_length_and_keeps_their_order():
    model = LastAndLength()
    reader = WindowReader(model, Config(window_size=3))
    logits, state = reader.start([np.array([1, 2, 3, 4]), np.array([7]), np.array([5, 6, 8])])
    assert np.argmax(logits[:, :-1], axis=1).tolist() == [4, 7, 8]
    assert logits[:, -1].tolist() == [3, 1, 3]  # cropped to the window; the short one read as it is
    assert sorted(model.shapes) == [(1, 1), (2, 3)]  # one call per length
    logits, state = reader.advance(state, np.array([9, 10, 11]))
    assert [s.tolist() for s in state] == [[3, 4, 9], [7, 10], [6, 8, 11]]
    assert np.argmax(logits[:, :-1], axis=1).tolist() == [9, 10, 11]


def test_a_model_trained_on_last_targets_reads_a_short_context_padded():
    reader = WindowReader(LastAndLength(), Config(window_size=3, targets="last"))
    logits, state = reader.start([np.array([7])])
    assert state[0].tolist() == [UNKNOWN_ID, UNKNOWN_ID, 7] and logits[0, -1] == 3


def test_scored_pairs_every_full_window_with_the_token_after_it():
    split = Split.from_lengths(np.arange(1, 12, dtype=np.int32), [6, 2, 3])  # 1..6 | 7 8 | 9 10 11
    reader = WindowReader(LastAndLength(), Config(window_size=2))
    pairs = list(reader.scored(split, batch_size=3))
    assert [len(targets) for _, targets in pairs] == [3, 2]  # batches of at most 3
    targets = np.concatenate([targets for _, targets in pairs])
    assert targets.tolist() == [3, 4, 5, 6, 11]  # segment 7 8 holds no window with a token after it
    last_read = np.concatenate([np.argmax(logits[:, :-1], axis=1) for logits, _ in pairs])
    assert (last_read == targets - 1).all()  # each target is scored from the window just before it


def test_pair_counts_count_input_and_next_token_pairs_per_segment():
    split = Split.from_lengths(np.arange(1, 12, dtype=np.int32), [6, 1, 4])
    assert pair_counts(split).tolist() == [5, 0, 3]
