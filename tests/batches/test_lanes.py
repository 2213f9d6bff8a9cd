"""Lanes for full-context training, and the state carried between chunks (stream.py,
model.CarriedRNN). The carry tests run on whichever Keras backend is active; CI runs
them on TensorFlow and again on JAX (marker `backend`)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from word_predictor.config import Config, CorpusFacts
from word_predictor.corpus.splits import Split
from word_predictor.scoring.evaluate import score
from word_predictor.model.factory import build_model, copy_weights
from word_predictor.model.compile import compile_model
from word_predictor.rundir import load_model, save_model_atomic
from word_predictor.batches.lanes import LaneBatches, gather_step, lay_out
from word_predictor.batches.stream_reader import StreamReader

VOCABULARY = 11
FACTS = CorpusFacts(vocabulary_size=VOCABULARY)


def tiny_config(**overrides) -> Config:
    settings_ = dict(units=4, embedding_dim=3, context="full", bptt=3,
                     batch_size=2, dropout=0.0, layers=2)  # fmt: skip
    return Config(**(settings_ | overrides))


_SEGMENTS = st.lists(st.integers(0, 40), min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(_SEGMENTS, st.integers(1, 7), st.integers(1, 5), st.booleans())
def test_every_target_is_the_next_token_of_its_input(lengths, bptt, lanes, whole):
    # Ids are positions in the text, so each pair can be traced back to where it came from.
    ids = np.arange(sum(lengths), dtype=np.int32)
    split = Split.from_lengths(ids, lengths)
    segment_of = np.repeat(np.arange(len(lengths)), lengths)
    layout = lay_out(split.bounds, bptt, lanes, keep_segments_whole=whole)
    seen = []
    previous_end = [None] * lanes  # where each lane's text stopped, to check continuity
    for step in range(layout.steps):
        tokens, targets, weights, resets = gather_step(ids, layout, step, bptt)
        for lane in range(lanes):
            valid = weights[lane] > 0
            inputs, following = tokens[lane][valid], targets[lane][valid]
            assert np.all(following == inputs + 1)  # the target is the very next token
            assert np.all(segment_of[inputs] == segment_of[following])  # never across a segment edge
            if inputs.size:
                assert np.all(np.diff(inputs) == 1)  # a chunk is contiguous text
                continues = previous_end[lane] is not None and inputs[0] == previous_end[lane] + 1 \
                    and segment_of[inputs[0]] == segment_of[previous_end[lane]]
                # the state carries exactly when the lane continues the same text
                assert bool(resets[lane]) == (not continues)
                previous_end[lane] = inputs[-1]
                seen.extend(inputs.tolist())
    # every (token, next token) pair inside a segment, exactly once
    expected = [i for i in range(ids.size - 1) if segment_of[i] == segment_of[i + 1]]
    assert sorted(seen) == expected


def test_lanes_hold_contiguous_stretches_and_pad_instead_of_dropping():
    split = Split.from_lengths(np.arange(21, dtype=np.int32), [21])
    layout = lay_out(split.bounds, bptt=4, lanes=2)
    # 20 pairs -> 5 chunks -> lanes of 3 and 2 (+1 empty chunk)
    assert layout.starts.tolist() == [[0, 4, 8], [12, 16, 0]]
    assert layout.lengths.tolist() == [[4, 4, 4], [4, 4, 0]]
    assert layout.resets.tolist() == [[True, False, False], [True, False, True]]
    assert layout.targets == 20


def run_chunks(model, text, resets):
    """Feed (lanes, time) text to a carried-state model one bptt chunk at a time."""
    bptt = model.input["tokens"].shape[1]
    return np.concatenate([
        np.asarray(model.predict({"tokens": text[:, i : i + bptt], "reset": resets[k]}, verbose=0))
        for k, i in enumerate(range(0, text.shape[1], bptt))
    ], axis=1)  # fmt: skip


@pytest.mark.backend
@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_state_carries_through_predict_evaluate_and_fit(cell):
    config = tiny_config(cell=cell)
    training = build_model(config, FACTS, "training")
    compile_model(training, config)
    inference = copy_weights(training, build_model(config, FACTS))
    text = np.random.default_rng(0).integers(0, VOCABULARY, (2, 6)).astype(np.int32)
    zero = [np.zeros((2, config.units), np.float32) for _ in inference.inputs[1:]]
    whole, *final = inference.predict_on_batch([text, *zero])
    one, none = np.ones(2, np.float32), np.zeros(2, np.float32)
    # predict: two chunks in a row give one pass over their concatenation
    np.testing.assert_allclose(run_chunks(training, text, [one, none]), whole, rtol=1e-5, atol=1e-6)
    # ... and a reset before the second chunk forgets the first
    alone = inference.predict_on_batch([text[:, 3:], *zero])[0]
    np.testing.assert_allclose(run_chunks(training, text, [one, one])[:, 3:], alone, rtol=1e-5, atol=1e-6)
    # evaluate: the second chunk's loss depends on whether the first was read before it
    targets = np.roll(text, -1, axis=1)
    expected_loss = [
        float(np.mean(-np.log(np.take_along_axis(_softmax(logits), t[..., None], -1))))
        for logits, t in ((whole[:, 3:], targets[:, 3:]), (alone, targets[:, 3:]))
    ]
    training.predict({"tokens": text[:, :3], "reset": one}, verbose=0)
    carried = training.evaluate({"tokens": text[:, 3:], "reset": none}, targets[:, 3:], verbose=0, batch_size=2)[0]
    reset = training.evaluate({"tokens": text[:, 3:], "reset": one}, targets[:, 3:], verbose=0, batch_size=2)[0]
    assert carried == pytest.approx(expected_loss[0], rel=1e-4) and reset == pytest.approx(expected_loss[1], rel=1e-4)
    # fit: the state left after a training step is the forward pass's final state
    # (computed with the weights as they were before the step)
    before = copy_weights(training, build_model(config, FACTS))
    _, *expected_state = before.predict_on_batch([text[:, :3], *zero])
    training.fit({"tokens": text[:, :3], "reset": one}, targets[:, :3], epochs=1, batch_size=2, verbose=0,
                 shuffle=False)  # fmt: skip
    carried_state = [np.asarray(v) for layer in training.layers for v in getattr(layer, "carried", [])]
    assert len(carried_state) == len(expected_state)
    for got, want in zip(carried_state, expected_state):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        assert np.abs(got).sum() > 0


def _softmax(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.backend
def test_lane_batches_reset_at_segment_edges_in_fit():
    # Two segments in one lane: the second segment's chunk must start from zero state.
    config = tiny_config(batch_size=1, bptt=3)
    training = build_model(config, FACTS, "training")
    compile_model(training, config)
    ids = np.random.default_rng(1).integers(0, VOCABULARY, 8).astype(np.int32)
    batches = LaneBatches(Split.from_lengths(ids, [4, 4]), bptt=3, lanes=1)
    assert len(batches) == 2 and batches[1][0]["reset"].tolist() == [1.0]
    inference = copy_weights(training, build_model(config, FACTS))
    zero = [np.zeros((1, config.units), np.float32) for _ in inference.inputs[1:]]
    second = inference.predict_on_batch([ids[None, 4:7], *zero])[0]
    training.predict(batches[0][0], verbose=0)  # reads segment 1
    np.testing.assert_allclose(training.predict(batches[1][0], verbose=0), second, rtol=1e-5, atol=1e-6)


@pytest.mark.backend
def test_lane_parallel_scoring_equals_a_single_lane():
    config = tiny_config(units=5)
    inference = build_model(config, FACTS)
    rng = np.random.default_rng(2)
    ids = rng.integers(0, VOCABULARY, 300).astype(np.int32)
    split = Split.from_lengths(ids, [120, 7, 90, 83])
    # batch 16: one lane reading chunks of 64 tokens, the state carried from call to call;
    # batch 1024: the four segments side by side, each read in one call
    one_lane = score(StreamReader(inference, config), split, batch_size=16)
    lanes = score(StreamReader(inference, config), split, batch_size=1024)
    assert one_lane["tokens"] == lanes["tokens"] == 300 - 4
    assert lanes["loss"] == pytest.approx(one_lane["loss"], rel=1e-5)
    assert lanes["top1"] == one_lane["top1"]
    # the same as reading each segment in one call from a zero state
    log_likelihood = 0.0
    for segment in split.segments():
        zero = [np.zeros((1, config.units), np.float32) for _ in inference.inputs[1:]]
        logits = inference.predict_on_batch([segment[None, :-1], *zero])[0][0]
        log_likelihood += np.log(_softmax(logits)[np.arange(segment.size - 1), segment[1:]]).sum()
    assert lanes["loss"] == pytest.approx(-log_likelihood / (300 - 4), rel=1e-5)


@pytest.mark.backend
def test_saved_run_model_gives_the_trained_models_probabilities_at_batch_one(tmp_path):
    config = tiny_config(batch_size=3)
    training = build_model(config, FACTS, "training")
    compile_model(training, config)
    text = np.random.default_rng(3).integers(0, VOCABULARY, (3, 6)).astype(np.int32)
    training.fit({"tokens": text[:, :3], "reset": np.ones(3, np.float32)}, text[:, 1:4], epochs=1, batch_size=3,
                 verbose=0)  # fmt: skip
    save_model_atomic(training, tmp_path / "training.keras")  # the resume checkpoint: carried state and all
    restored = load_model(tmp_path / "training.keras")
    save_model_atomic(copy_weights(restored, build_model(config, FACTS)), tmp_path / "model.keras")
    reader = StreamReader(load_model(tmp_path / "model.keras"), config)
    expected = run_chunks(training, text, [np.ones(3, np.float32), np.zeros(3, np.float32)])[:, -1]
    for lane in range(3):
        logits, _ = reader.start([text[lane]])
        np.testing.assert_allclose(_softmax(logits[0]), _softmax(expected[lane]), rtol=1e-5, atol=1e-7)
