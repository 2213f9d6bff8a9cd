"""batches.context_for: the two ways to feed text, picked by name, answer one interface
(word_predictor/batches/__init__.py lists it), so no caller asks which one it has."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from word_predictor.batches import CONTEXTS, KINDS, context_for
from word_predictor.config import Config, CorpusFacts
from word_predictor.corpus.splits import Split
from word_predictor.model.factory import build_model, copy_weights

VOCABULARY = 9
FACTS = CorpusFacts(vocabulary_size=VOCABULARY)
CONFIG = Config(units=4, embedding_dim=3, window_size=3, bptt=4, batch_size=4,
                dropout=0.0)  # fmt: skip


def a_split(*lengths: int) -> Split:
    ids = (np.arange(sum(lengths)) % (VOCABULARY - 1) + 1).astype(np.int32)  # no unknown symbol
    return Split.from_lengths(ids, list(lengths))


def test_an_unknown_context_is_refused_with_the_valid_names():
    with pytest.raises(ValueError, match="'sideways'; choose one of window, full"):
        context_for(dataclasses.replace(CONFIG, context="sideways"))


def test_the_window_context_cuts_the_text_into_windows_of_window_size():
    context = context_for(dataclasses.replace(CONFIG, context="window"))
    batches = context.training_batches(a_split(40), epoch=0)
    windows = np.concatenate([batches[index][0] for index in range(len(batches))])
    assert windows.shape == (40 - CONFIG.window_size, CONFIG.window_size)  # one window per start with a token after it
    # each window is window_size consecutive tokens of the text (which cycles through 1..8)
    np.testing.assert_array_equal(windows[:, 1:], windows[:, :-1] % (VOCABULARY - 1) + 1)
    assert len({tuple(window) for window in windows}) == VOCABULARY - 1  # every start, not one window repeated


def test_the_full_context_carries_each_lane_from_one_batch_into_the_next():
    context = context_for(dataclasses.replace(CONFIG, context="full"))
    batches = context.training_batches(a_split(40), epoch=0)
    for index in range(1, len(batches)):
        (before, before_targets, before_weights), (after, _, after_weights) = batches[index - 1], batches[index]
        assert before["tokens"].shape == (CONFIG.batch_size, CONFIG.bptt)
        carried = (after["reset"] == 0) & (after_weights[:, 0] > 0)
        assert carried.any()
        # a lane's next chunk starts with the token its last chunk ended by predicting
        last = before_weights.sum(axis=1).astype(int) - 1
        np.testing.assert_array_equal(after["tokens"][carried, 0], before_targets[np.arange(len(last)), last][carried])
    assert (batches[0][0]["reset"] == 1).all()  # every lane starts from a zero state


def test_a_window_forgets_the_text_before_it_and_the_full_context_does_not():
    window, full = (context_for(dataclasses.replace(CONFIG, context=name)) for name in ("window", "full"))
    windowed = build_model(window.config, FACTS)
    running = copy_weights(windowed, build_model(full.config, FACTS))
    same_last_window = [np.array([1, 2, 3]), np.array([5, 7, 4, 1, 2, 3])]
    by_window, _ = window.reader(windowed).start(same_last_window)
    np.testing.assert_allclose(by_window[0], by_window[1], rtol=1e-6)
    by_lanes, _ = full.reader(running).start(same_last_window)
    assert not np.allclose(by_lanes[0], by_lanes[1], rtol=1e-4, atol=1e-6)
def test_each_name_gets_the_keras_context_of_its_own_kind():
    assert CONTEXTS == ("window", "full")
    for name in CONTEXTS:
        context = context_for(dataclasses.replace(CONFIG, context=name))
        assert context.name == name and isinstance(context, KINDS[name])
        assert hasattr(context, "training_batches")  # the Keras part, beside the kind's answers


@pytest.fixture(params=sorted(CONTEXTS))
def each_context(request):
    return context_for(dataclasses.replace(CONFIG, context=request.param))


def test_each_context_sizes_a_corpus(each_context):
    context = each_context
    assert context.min_tokens >= 2
    for tokens in (10, 1_000, 1_000_000):
        assert context.block_size(tokens) >= context.min_tokens
    context.check_training_split(a_split(40))
    with pytest.raises(ValueError):
        context.check_training_split(a_split(1))  # no input with a token after it
    assert context.has_validation_targets(a_split(40)) and not context.has_validation_targets(a_split(1))


def test_each_contexts_batches_pair_inputs_with_the_tokens_that_follow(each_context):
    context = each_context
    split = a_split(30, 17)
    batches = context.training_batches(split, epoch=0)
    assert len(batches) > 0 and batches.examples_per_epoch > 0
    scored = 0
    for batch in (batches[index] for index in range(len(batches))):
        inputs, targets = batch[:2]
        weights = batch[2] if len(batch) > 2 else np.ones(targets.shape)
        tokens = inputs["tokens"] if isinstance(inputs, dict) else inputs
        assert tokens.shape[0] == targets.shape[0] <= CONFIG.batch_size
        # The text cycles through 1..8, so every scored target is the id after its input's.
        assert weights.sum() > 0
        np.testing.assert_array_equal(targets[weights > 0], (tokens % (VOCABULARY - 1) + 1)[weights > 0])
        scored += int((weights > 0).sum())
    assert scored == batches.targets_per_epoch


def test_each_contexts_reader_answers_start_advance_and_scored(each_context):
    context = each_context
    inference = build_model(context.config, FACTS)  # the view predict and evaluate use
    reader = context.reader(inference)
    logits, state = reader.start([np.array([1, 2, 3]), np.array([4, 5])])
    assert logits.shape == (2, VOCABULARY) and np.isfinite(logits).all()
    logits, state = reader.advance(state, np.array([4, 6]))
    assert logits.shape == (2, VOCABULARY) and np.isfinite(logits).all()
    split = a_split(12, 7)
    scored = [(logits, targets) for logits, targets in reader.scored(split, batch_size=8)]
    targets = np.concatenate([targets for _, targets in scored])
    assert all(logits.shape == (len(targets), VOCABULARY) for logits, targets in scored)
    assert 0 < len(targets) <= split.token_count - 2 and np.isin(targets, split.ids).all()


def test_both_readers_read_one_model_alike_where_a_context_fits_a_window():
    # One set of weights; a context no longer than the window gives the same next-token
    # logits whether read as a window or as running text.
    window, full = (context_for(dataclasses.replace(CONFIG, context=name)) for name in ("window", "full"))
    windowed = build_model(window.config, FACTS)
    running = copy_weights(windowed, build_model(full.config, FACTS))
    contexts = [np.array([1, 2, 3]), np.array([5, 6, 7])]
    by_window, _ = window.reader(windowed).start(contexts)
    by_lanes, _ = full.reader(running).start(contexts)
    np.testing.assert_allclose(by_window, by_lanes, rtol=1e-5, atol=1e-5)
