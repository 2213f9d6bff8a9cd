"""Every value generate's sampling flags accept gives a valid distribution (no NaN, no <unk>).

The range is what cli's types let through: --temperature any finite number >= 0
(down to the smallest subnormal), --top-k any whole number >= 0, --top-p any number
in (0, 1]. Before the fix --top-p 1e-12 dropped every token and --temperature 1e-320
divided by almost nothing: NaN rows, NumPy warnings, and the unknown symbol drawn.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from word_predictor import cli
from word_predictor.scoring.sampling import probabilities, sample_batch

temperatures = st.one_of(
    st.just(0.0),
    st.floats(min_value=0, max_value=np.finfo(np.float64).max, allow_nan=False, allow_infinity=False),
    st.sampled_from([5e-324, 1e-320, 1e-308, 1e-12, 1e300]),
)
top_ks = st.integers(min_value=0, max_value=10**9)
top_ps = st.one_of(
    st.floats(min_value=0, max_value=1, exclude_min=True, allow_nan=False),
    st.sampled_from([5e-324, 1e-300, 1e-12, 1 - 1e-16, 1.0]),
)
logit_rows = st.lists(
    st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=3, max_size=12),
    min_size=1,
    max_size=4,
).filter(lambda rows: len({len(row) for row in rows}) == 1)


@settings(max_examples=150, deadline=None)
@given(logit_rows, temperatures, top_ks, top_ps)
def test_every_accepted_setting_gives_a_distribution_without_the_unknown(rows, temperature, top_k, top_p):
    logits = np.array(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy overflow or invalid-value warning fails the test
        chosen = probabilities(logits, temperature, top_k, top_p, exclude=[0])
        drawn = sample_batch(logits, temperature=temperature, top_k=top_k, top_p=top_p, exclude=[0],
                             rng=np.random.default_rng(0))  # fmt: skip
    assert np.isfinite(chosen).all() and (chosen >= 0).all()
    np.testing.assert_allclose(chosen.sum(axis=1), 1.0)
    assert (chosen[:, 0] == 0).all()  # the excluded (unknown) id is never possible
    assert (drawn != 0).all()
    # the likeliest allowed token (ties: the lower id) is always kept, whatever the filters
    best = np.argmax(probabilities(logits, temperature, exclude=[0]), axis=1)
    assert (chosen[np.arange(len(logits)), best] > 0).all()


@pytest.mark.parametrize("text", ["5e-324", "1e-320", "1e-12"])
def test_the_command_line_accepts_the_tiny_values_the_property_covers(text):
    # the property above covers exactly what the flags let through
    assert cli.non_negative_float(text) > 0 and cli.probability(text) > 0


def test_a_temperature_too_small_to_divide_by_is_greedy():
    logits = np.array([[0.0, 1.0, 3.0, 2.0]])
    np.testing.assert_array_equal(probabilities(logits, temperature=1e-320), [[0, 0, 1, 0]])


def test_a_tiny_top_p_keeps_only_the_likeliest():
    logits = np.array([[0.0, 1.0, 3.0, 2.0]])
    np.testing.assert_array_equal(probabilities(logits, top_p=1e-12), [[0, 0, 1, 0]])
