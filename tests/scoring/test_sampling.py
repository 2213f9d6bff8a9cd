"""scoring.sampling: temperature, top-k and top-p over logits, and draws from what they keep.

Every value generate's sampling flags accept gives a valid distribution: the range is what
cli's types let through, --temperature any finite number >= 0 (down to the smallest
subnormal), --top-k any whole number >= 0, --top-p any number in (0, 1].
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from word_predictor import cli
from word_predictor.scoring import sampling

logit_rows = st.lists(st.floats(-20, 20), min_size=1, max_size=30).map(np.array)
# Few distinct values, so equal logits (ties) are common.
tied_rows = st.lists(st.sampled_from([-3.0, 0.0, 0.5, 2.0]), min_size=1, max_size=12).map(np.array)
temperatures = st.floats(0.05, 5)


def reference_order(weights):
    """Most probable first, equal weights by lower id."""
    return sorted(range(len(weights)), key=lambda i: (-weights[i], i))


def unfiltered(logits, temperature, exclude=()):
    """The distribution before top-k and top-p: what they choose from."""
    return sampling.probabilities(logits, temperature, exclude=exclude)


@settings(max_examples=200, deadline=None)
@given(logit_rows)
def test_temperature_towards_0_is_argmax(logits):
    best = int(np.argmax(logits))
    gap = logits[best] - np.max(np.delete(logits, best), initial=-np.inf)
    assume(gap > 1e-3)
    cold = sampling.probabilities(logits, temperature=min(gap, 1.0) / 50)
    assert int(np.argmax(cold)) == best and cold[best] == pytest.approx(1.0, abs=1e-12)
    greedy = sampling.probabilities(logits, temperature=0)
    assert greedy[best] == 1.0 and greedy.sum() == 1.0
    assert sampling.sample(logits, temperature=0, rng=np.random.default_rng(0)) == best


@settings(max_examples=200, deadline=None)
@given(tied_rows, temperatures)
def test_top_k_1_is_greedy_even_on_ties(logits, temperature):
    greedy = sampling.probabilities(logits, temperature=0)
    assert np.array_equal(sampling.probabilities(logits, temperature, top_k=1), greedy)
    assert int(np.argmax(greedy)) == reference_order(logits)[0]  # the lowest id among the best
    drawn = sampling.sample_batch(np.tile(logits, (20, 1)), temperature=temperature, top_k=1,
                                  rng=np.random.default_rng(1))  # fmt: skip
    assert set(drawn.tolist()) == {reference_order(logits)[0]}


@settings(max_examples=300, deadline=None)
@given(st.one_of(logit_rows, tied_rows), temperatures, st.floats(0.01, 1.0))
def test_top_p_keeps_the_fewest_most_probable_tokens_that_reach_p(logits, temperature, top_p):
    full = unfiltered(logits, temperature)
    ranked = reference_order(full)
    running = np.cumsum(full[ranked])
    needed = int(np.searchsorted(running, top_p)) + 1  # first prefix whose mass reaches p
    needed = min(needed, len(ranked))
    # Skip draws where p sits within rounding of a running total: either answer is right.
    assume(np.all(np.abs(running - top_p) > 1e-9))
    kept = sampling.probabilities(logits, temperature, top_p=top_p)
    assert set(np.flatnonzero(kept)) == set(ranked[:needed]) - {i for i in ranked if full[i] == 0}
    assert kept.sum() == pytest.approx(1.0)
    assert np.allclose(kept[ranked[:needed]], full[ranked[:needed]] / full[ranked[:needed]].sum())


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(logit_rows, tied_rows),
    temperatures,
    st.integers(0, 40),
    st.floats(0.01, 1.0),
    st.sets(st.integers(0, 29), max_size=5),
)
def test_probabilities_sum_to_1_and_vanish_outside_the_kept_set(logits, temperature, top_k, top_p, exclude):
    exclude = {i for i in exclude if i < len(logits)}
    assume(len(exclude) < len(logits))
    kept = sampling.probabilities(logits, temperature, top_k, top_p, exclude)
    assert kept.sum() == pytest.approx(1.0)
    assert np.all(kept >= 0) and np.all(kept[list(exclude)] == 0)
    allowed = [i for i in reference_order(unfiltered(logits, temperature, exclude)) if i not in exclude]
    if top_k:
        allowed = allowed[:top_k]
    assert set(np.flatnonzero(kept)) <= set(allowed)
    assert kept[allowed[0]] > 0  # the most probable allowed token always survives


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.floats(-20, 20), min_size=8, max_size=8), min_size=1, max_size=4), st.integers(0))
def test_a_seed_reproduces_the_samples_and_batches_match_rows(rows, seed):
    logits = np.array(rows)
    settings_ = {"temperature": 0.8, "top_k": 5, "top_p": 0.9}
    first = sampling.sample_batch(logits, **settings_, rng=np.random.default_rng(seed))
    again = sampling.sample_batch(logits, **settings_, rng=np.random.default_rng(seed))
    assert np.array_equal(first, again)
    batch = sampling.probabilities(logits, 0.8, 5, 0.9)
    for row, expected in zip(logits, batch):
        assert np.allclose(sampling.probabilities(row, 0.8, 5, 0.9), expected)


@settings(max_examples=100, deadline=None)
@given(tied_rows, st.sets(st.integers(0, 11), min_size=1, max_size=4), st.integers(0, 2**32))
def test_excluded_ids_are_never_drawn(logits, exclude, seed):
    exclude = {i for i in exclude if i < len(logits)}
    assume(exclude and len(exclude) < len(logits))
    rng = np.random.default_rng(seed)
    drawn = sampling.sample_batch(np.tile(logits, (200, 1)), exclude=exclude, rng=rng)
    assert not set(drawn.tolist()) & exclude
    assert sampling.sample(logits, temperature=0, exclude=exclude, rng=rng) not in exclude


def test_draws_follow_the_probabilities():
    logits = np.array([np.log(0.5), np.log(0.3), np.log(0.2), -np.inf])
    drawn = sampling.sample_batch(np.tile(logits, (20_000, 1)), rng=np.random.default_rng(7))
    shares = np.bincount(drawn, minlength=4) / drawn.size
    assert np.allclose(shares, [0.5, 0.3, 0.2, 0.0], atol=0.015)
    assert shares[3] == 0.0  # log(0) = -inf logits are never drawn


def test_a_worked_example():
    # probabilities .5 .3 .15 .05: top-p .7 keeps .5 + .3 (reaches .8); top-k 3 keeps 3
    logits = np.log(np.array([0.05, 0.5, 0.15, 0.3]))
    assert np.allclose(sampling.probabilities(logits, top_p=0.7), [0, 0.625, 0, 0.375])
    assert np.allclose(sampling.probabilities(logits, top_k=3), [0, 0.5 / 0.95, 0.15 / 0.95, 0.3 / 0.95])
    assert np.allclose(sampling.probabilities(logits, top_p=0.8), [0, 0.625, 0, 0.375])  # .8 is reached
    assert np.allclose(sampling.probabilities(logits, exclude=[1]), [0.1, 0, 0.3, 0.6])
    # T = 2 flattens: probabilities become proportional to sqrt(p)
    flat = np.sqrt([0.05, 0.5, 0.15, 0.3])
    assert np.allclose(sampling.probabilities(logits, temperature=2), flat / flat.sum())


@pytest.mark.parametrize(
    "settings_, message",
    [
        ({"temperature": -0.5}, "temperature must be 0"),
        ({"temperature": float("nan")}, "temperature must be 0"),
        ({"temperature": float("inf")}, "temperature must be 0"),
        ({"top_k": -1}, "top_k must be 0"),
        ({"top_k": 2.5}, "top_k must be 0"),
        ({"top_p": 0.0}, "top_p must be more than 0"),
        ({"top_p": 1.5}, "top_p must be more than 0"),
        ({"exclude": [4]}, "excluded id 4 is outside the vocabulary of 3"),
        ({"exclude": [0, 1, 2]}, "every token is excluded"),
    ],
)
def test_bad_settings_say_what_is_allowed(settings_, message):
    with pytest.raises(ValueError, match=message):
        sampling.sample(np.zeros(3), rng=np.random.default_rng(0), **settings_)


def test_bad_shapes_and_nan_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="see sample_batch"):
        sampling.sample(np.zeros((2, 3)), rng=rng)
    with pytest.raises(ValueError, match=r"\(batch, vocabulary\)"):
        sampling.sample_batch(np.zeros(3), rng=rng)
    with pytest.raises(ValueError, match="NaN"):
        sampling.probabilities(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match=r"\+inf"):
        sampling.probabilities(np.array([0.0, np.inf]))


# ---------------------------------------------------------------- every value the flags accept

accepted_temperatures = st.one_of(
    st.just(0.0),
    st.floats(min_value=0, max_value=np.finfo(np.float64).max, allow_nan=False, allow_infinity=False),
    st.sampled_from([5e-324, 1e-320, 1e-308, 1e-12, 1e300]),
)
accepted_top_ks = st.integers(min_value=0, max_value=10**9)
accepted_top_ps = st.one_of(
    st.floats(min_value=0, max_value=1, exclude_min=True, allow_nan=False),
    st.sampled_from([5e-324, 1e-300, 1e-12, 1 - 1e-16, 1.0]),
)
logit_batches = st.lists(
    st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=3, max_size=12),
    min_size=1,
    max_size=4,
).filter(lambda rows: len({len(row) for row in rows}) == 1)


@settings(max_examples=150, deadline=None)
@given(logit_batches, accepted_temperatures, accepted_top_ks, accepted_top_ps)
def test_every_accepted_setting_gives_a_distribution_without_the_unknown(rows, temperature, top_k, top_p):
    logits = np.array(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy overflow or invalid-value warning fails the test
        chosen = sampling.probabilities(logits, temperature, top_k, top_p, exclude=[0])
        drawn = sampling.sample_batch(logits, temperature=temperature, top_k=top_k, top_p=top_p, exclude=[0],
                                      rng=np.random.default_rng(0))  # fmt: skip
    assert np.isfinite(chosen).all() and (chosen >= 0).all()
    np.testing.assert_allclose(chosen.sum(axis=1), 1.0)
    assert (chosen[:, 0] == 0).all()  # the excluded (unknown) id is never possible
    assert (drawn != 0).all()
    # the likeliest allowed token (ties: the lower id) is always kept, whatever the filters
    best = np.argmax(sampling.probabilities(logits, temperature, exclude=[0]), axis=1)
    assert (chosen[np.arange(len(logits)), best] > 0).all()


@pytest.mark.parametrize("text", ["5e-324", "1e-320", "1e-12"])
def test_the_command_line_accepts_the_tiny_values_the_property_covers(text):
    # the property above covers exactly what the flags let through
    assert cli.non_negative_float(text) > 0 and cli.probability(text) > 0


def test_a_temperature_too_small_to_divide_by_is_greedy():
    # dividing by 1e-320 overflows: such a temperature is read as 0 (greedy), not as NaN rows
    logits = np.array([[0.0, 1.0, 3.0, 2.0]])
    np.testing.assert_array_equal(sampling.probabilities(logits, temperature=1e-320), [[0, 0, 1, 0]])


def test_a_tiny_top_p_keeps_only_the_likeliest():
    logits = np.array([[0.0, 1.0, 3.0, 2.0]])
    np.testing.assert_array_equal(sampling.probabilities(logits, top_p=1e-12), [[0, 0, 1, 0]])
