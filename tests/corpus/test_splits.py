"""split_segments and split_bounds: the splits cover every token once, in order.
"""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from word_predictor.corpus.splits import SPLITS, split_bounds, split_segments, window_block_size


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


def test_split_segments_are_deterministic():
    assert split_segments(12345, 123, 0.1, 0.2) == split_segments(12345, 123, 0.1, 0.2)
    sizes = {
        name: sum(e - s for s, e in pieces) for name, pieces in split_segments(100_000, 1000, 0.1, 0.2).items()
    }
    assert abs(sizes["test"] / 100_000 - 0.2) < 0.05 and abs(sizes["validation"] / 100_000 - 0.1) < 0.05

