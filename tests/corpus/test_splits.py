"""split_segments and split_bounds: the splits cover every token once, in order, each taking
its share from every part of the text."""

import itertools
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import REPO
from word_predictor.corpus.splits import SPLITS, Split, split_bounds, split_segments, window_block_size


# ---------------------------------------------------------------- splits


def test_split_segments_cover_every_token_once():
    segments = split_segments(10_000, window_size=5, validation_fraction=0.1, test_fraction=0.2)
    covered = sorted((a, b) for spans in segments.values() for a, b in spans)
    assert covered[0][0] == 0 and covered[-1][1] == 10_000
    assert all(prev[1] == nxt[0] for prev, nxt in zip(covered, covered[1:]))
    share = {name: sum(b - a for a, b in spans) / 10_000 for name, spans in segments.items()}
    assert share["test"] == pytest.approx(0.2, abs=0.03)
    assert share["validation"] == pytest.approx(0.1, abs=0.03)


def test_split_bounds_follow_the_block_length_asked_for():
    bounds = split_bounds(1005, 10, 0.1, 0.2)
    edges = np.concatenate(list(bounds.values())).ravel()
    assert set(edges.tolist()) - {1005} <= set(range(0, 1001, 10))
    assert sum(int((b[:, 1] - b[:, 0]).sum()) for b in bounds.values()) == 1005
    assert window_block_size(5)(50_000) == 500 and window_block_size(5)(100) == 12


@settings(max_examples=200)
@given(
    st.integers(0, 5000),
    st.integers(1, 60),
    st.floats(0, 0.45, allow_nan=False),
    st.floats(0, 0.45, allow_nan=False),
)
def test_split_segments_cover_every_token_once_in_order(n_tokens, block, validation, test):
    segments = split_segments(n_tokens, block, validation, test)
    assert set(segments) == set(SPLITS)
    for pieces in segments.values():
        assert all(start < end for start, end in pieces)
        # In text order, and neighbouring blocks of one split are merged.
        assert all(a_end < b_start for (_, a_end), (b_start, _) in itertools.pairwise(pieces))
    everything = sorted(piece for pieces in segments.values() for piece in pieces)
    covered = [position for start, end in everything for position in range(start, end)]
    assert covered == list(range(n_tokens))


def test_split_segments_are_the_same_in_every_process():
    # A resumed run and evaluate must see the very splits training used: nothing may
    # depend on a random seed, the hash seed or the process.
    program = "from word_predictor.corpus.splits import split_segments; print(split_segments(12345, 123, 0.1, 0.2))"
    here = repr(split_segments(12345, 123, 0.1, 0.2))
    for hash_seed in ("1", "2"):
        environment = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(REPO)}
        printed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=environment,
                                 check=True, timeout=120).stdout  # fmt: skip
        assert printed.strip() == here


@pytest.mark.parametrize("validation, test", [(0.1, 0.2), (0.05, 0.05), (0.3, 0.0), (0.0, 0.25)])
def test_each_split_takes_its_share_of_blocks_from_every_part_of_the_text(validation, test):
    blocks, block = 1000, 100
    bounds = split_bounds(blocks * block, block, validation, test)
    for name, fraction in (("validation", validation), ("test", test), ("train", 1 - validation - test)):
        taken = np.zeros(blocks, bool)
        for start, end in bounds[name]:
            taken[start // block : end // block] = True
        # Dealt by a low-discrepancy sequence: within two blocks of the share asked for,
        assert abs(taken.sum() - fraction * blocks) <= 2, name
        # and spread evenly: each tenth of the text holds its share too, within three blocks.
        for tenth in taken.reshape(10, -1):
            assert abs(tenth.sum() - fraction * tenth.size) <= 3, name




# ---------------------------------------------------------------- saving a split


def test_a_saved_split_reads_back_as_its_compact_copy(tmp_path):
    ids = np.arange(3_000_005, dtype=np.int32)
    split = Split(ids, np.array([[0, 10], [20, 2_500_000], [2_600_000, 3_000_005]]))
    split.save(tmp_path / "split.npz")
    with np.load(tmp_path / "split.npz", allow_pickle=False) as data:
        assert data["ids"].dtype == np.int32
        assert np.array_equal(data["ids"], split.compact().ids)
        assert data["segment_lengths"].tolist() == [10, 2_499_980, 400_005]
    Split(np.zeros(0, np.int32), np.zeros((0, 2), np.int64)).save(tmp_path / "empty.npz")
    with np.load(tmp_path / "empty.npz", allow_pickle=False) as data:
        assert data["ids"].shape == (0,) and data["segment_lengths"].shape == (0,)


def test_saving_the_test_split_of_a_large_corpus_holds_a_block_not_the_split(tmp_path):
    # The test split of a memory-mapped store of 10M tokens (20% of them, 8 MB): written as the
    # run folder's test_split.npz a block at a time, not gathered in memory first.
    import tracemalloc

    from word_predictor.rundir import write_test_split

    ids = np.memmap(tmp_path / "ids.int32", dtype="<i4", mode="w+", shape=(10_000_000,))
    bounds = split_bounds(ids.size, 1000, 0.1, 0.2)["test"]
    tracemalloc.start()
    try:
        write_test_split(tmp_path, Split(ids, bounds))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3_000_000  # the split is 8 MB
    with np.load(tmp_path / "test_split.npz", allow_pickle=False) as data:
        assert data["ids"].size == int((bounds[:, 1] - bounds[:, 0]).sum())
