"""The continuous cache alone (NumPy): its mixture by hand, its bounds, and a property:
whatever it holds, every answer is a distribution."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies

from word_predictor.adaptation.cache import ContinuousCache
from word_predictor.adaptation.settings import CacheSettings, DynamicSettings
from word_predictor.config import SettingError
from word_predictor.text.vocabulary import UNKNOWN_ID

VOCABULARY = 5


def test_the_mixture_is_the_model_and_a_softmax_over_cached_positions():
    cache = ContinuousCache(CacheSettings(size=10, theta=2.0, mix=0.25), VOCABULARY)
    cache.add(np.array([[1.0, 0.0], [0.0, 1.0]]), [3, "zorblax"])
    model = np.array([[0.1, 0.2, 0.3, 0.2, 0.2]])
    mixed = cache.mix(model, np.array([[1.0, 0.0]]))
    # scores theta * h . h_i: 2 for the position followed by id 3, 0 for the one followed by "zorblax"
    to_three, to_new = np.exp(2.0) / (np.exp(2.0) + 1), 1 / (np.exp(2.0) + 1)
    expected = 0.75 * model[0]
    expected[3] += 0.25 * to_three
    expected[UNKNOWN_ID] += 0.25 * to_new  # the new word lives in the unknown symbol's class
    np.testing.assert_allclose(mixed.probabilities[0], expected)
    assert mixed.new_words(0) == pytest.approx({"zorblax": 0.25 * to_new})


def test_a_row_is_scored_before_the_cache_learns_from_it():
    cache = ContinuousCache(CacheSettings(size=10, theta=1.0, mix=0.5), VOCABULARY)
    model = np.full((2, VOCABULARY), 1 / VOCABULARY)
    mixed = cache.mix_and_add(model, np.ones((2, 3)), [2, 2])
    np.testing.assert_allclose(mixed.probabilities[0], model[0])  # nothing cached before the first row
    assert mixed.probabilities[1, 2] == pytest.approx(0.5 * 0.2 + 0.5)  # the first row's word, all the cache
    assert len(cache) == 2


def test_the_cache_keeps_its_size_and_forgets_the_new_words_it_dropped():
    cache = ContinuousCache(CacheSettings(size=3), VOCABULARY)
    assert cache.add(np.zeros((2, 2)), ["zorblax", "zorblax"]) == ["zorblax"]
    cache.add(np.zeros((3, 2)), [1, 2, "quillon"])
    assert len(cache) == 3
    assert dict(cache.learned()) == {"quillon": 1}
    for number in range(20):  # many words seen once: the numbering stays as small as the ring
        cache.add(np.zeros((1, 2)), [f"word{number}"])
    assert len(cache.words) <= 2 * 3 + 1


def test_one_thread_adding_while_another_mixes_always_sees_a_whole_cache():
    """The server's learning thread adds (new words renumbered as old ones drop out) while
    its model thread mixes: every mixture is a distribution over the words it names. (A
    stress test: without the cache's lock it failed about one run in four here.)"""
    import sys
    import threading

    vocabulary, units = 12, 4
    cache = ContinuousCache(CacheSettings(size=3, theta=1.0, mix=0.5), vocabulary)
    random = np.random.default_rng(0)
    probabilities = np.full((2, vocabulary), 1 / vocabulary)
    hidden = random.standard_normal((2, units)).astype(np.float32)
    done, problems = threading.Event(), []

    def add():
        for number in range(4000):
            cache.add(random.standard_normal((2, units)), [f"name{number}", number % vocabulary])
        done.set()

    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns between almost any two bytecodes: a race shows
    try:
        adding = threading.Thread(target=add)
        adding.start()
        while not done.is_set():
            try:
                mixed = cache.mix(probabilities, hidden)
                assert np.allclose(mixed.probabilities.sum(axis=1), 1) and mixed.new.shape == (2, len(mixed.words))
            except Exception as error:  # noqa: BLE001  (any failure is the finding)
                problems.append(repr(error))
        adding.join()
    finally:
        sys.setswitchinterval(switching)
    assert problems == []


def test_a_window_of_size_positions_back():
    cache = ContinuousCache(CacheSettings(size=1, theta=0.0, mix=1.0), VOCABULARY)
    model = np.full((3, VOCABULARY), 0.2)
    mixed = cache.mix_and_add(model, np.zeros((3, 2)), [1, 2, 3])
    assert mixed.probabilities[2, 2] == pytest.approx(1.0)  # only the position just before
    assert mixed.probabilities[2, 1] == pytest.approx(0.0)


@pytest.mark.parametrize(
    "settings, setting",
    [(dict(size=0), "cache_size"), (dict(size=10**6), "cache_size"), (dict(theta=-1.0), "cache_theta"),
     (dict(theta=float("nan")), "cache_theta"), (dict(mix=1.5), "cache_lambda"), (dict(mix=-0.1), "cache_lambda")],
)  # fmt: skip
def test_cache_settings_out_of_range_are_refused(settings, setting):
    with pytest.raises(SettingError) as refused:
        CacheSettings(**settings)
    assert setting in refused.value.template


@pytest.mark.parametrize("settings", [dict(rate=0.0), dict(rate=100.0), dict(decay=2.0), dict(segment=0)])
def test_dynamic_settings_out_of_range_are_refused(settings):
    with pytest.raises(SettingError):
        DynamicSettings(**settings)


KEYS = strategies.one_of(strategies.integers(0, VOCABULARY - 1), strategies.sampled_from(["zorblax", "quillon", "mirrow"]))


@settings(max_examples=60, deadline=None)
@given(
    size=strategies.integers(1, 8),
    theta=strategies.floats(0, 100),
    mix=strategies.floats(0, 1),
    keys=strategies.lists(KEYS, min_size=1, max_size=12),
    seed=strategies.integers(0, 2**31),
    scale=strategies.floats(0.01, 50),
)
def test_adaptation_always_gives_a_distribution(size, theta, mix, keys, seed, scale):
    rng = np.random.default_rng(seed)
    cache = ContinuousCache(CacheSettings(size=size, theta=theta, mix=mix), VOCABULARY)
    model = rng.dirichlet(np.full(VOCABULARY, 0.3), size=len(keys))
    hidden = rng.normal(0, scale, (len(keys), 4)).astype(np.float32)
    for mixed in (cache.mix_and_add(model, hidden, keys), cache.mix(model, hidden)):
        probabilities, new = mixed.probabilities, mixed.new
        assert np.all((probabilities >= 0) & (probabilities <= 1 + 1e-12))
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-9)
        assert np.all((new >= 0) & (new <= probabilities[:, [UNKNOWN_ID]] + 1e-12))
        assert np.all(new.sum(axis=1) <= probabilities[:, UNKNOWN_ID] + 1e-12)  # only out of the unknown class


# ---------------------------------------------------------------- the commands refuse settings out of range


def exit_code(main, argv) -> int:
    """A command's exit code, whether its parser (SystemExit) or its body refused."""
    try:
        return main(argv)
    except SystemExit as exit:
        return exit.code


@pytest.mark.parametrize(
    "argv, flag",
    [(["--adapt", "--cache-lambda", "1.5"], "--cache-lambda"), (["--adapt", "--cache-size", "0"], "--cache-size"),
     (["--adapt", "--cache-size", "200000"], "--cache-size"), (["--adapt", "dynamic", "--dynamic-rate", "50"], "--dynamic-rate"),
     (["--adapt", "sideways"], "--adapt"), (["--cache-theta", "0.2"], "--cache-theta")],
)  # fmt: skip
def test_evaluate_refuses_adaptation_settings_out_of_range(argv, flag, tmp_path, capsys):
    from tests.helpers import one_line
    from word_predictor import evaluate

    assert exit_code(evaluate.main, ["--logdir", str(tmp_path), *argv]) == 2
    assert flag in one_line(capsys.readouterr().err.replace("python -m word_predictor.", "word_predictor."), "evaluate")


@pytest.mark.parametrize(
    "argv, said",
    [(["the cat", "--adapt"], "--input or --interactive"), (["--input", "-", "--adapt", "dynamic"], "cache only"),
     (["--interactive", "--cache-lambda", "2"], "--cache-lambda")],
)  # fmt: skip
def test_predict_refuses_adaptation_it_cannot_do(argv, said, tmp_path, capsys):
    from tests.helpers import one_line
    from word_predictor import predict

    assert exit_code(predict.main, ["--logdir", str(tmp_path), *argv]) == 2
    assert said in one_line(capsys.readouterr().err.replace("python -m word_predictor.", "word_predictor."), "predict")
