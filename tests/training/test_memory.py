"""training/memory.py and model.build.parameter_count: a model too big for the machine is
refused by counting its weights, before anything is built or written."""

from __future__ import annotations

import itertools

import pytest

from word_predictor.config import Config, CorpusFacts, SettingError
from word_predictor.model.factory import build_model, parameter_count
from word_predictor.training.memory import TRAINING_BYTES_PER_PARAMETER, check_memory

SHAPES = [
    dict(cell=cell, bidirectional=bidirectional, layers=layers, one_hot=one_hot)
    for cell, bidirectional, layers, one_hot in itertools.product(("simple_rnn", "lstm", "gru"), (False, True), (1, 2),
                                                                  (False, True))  # fmt: skip
]


FACTS = CorpusFacts(vocabulary_size=13)


def tiny(**settings) -> Config:
    return Config(units=6, embedding_dim=5, **settings)


@pytest.mark.parametrize("settings", SHAPES, ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()))
def test_the_count_is_the_built_models_own(settings):
    config = tiny(**settings)
    assert parameter_count(config, FACTS) == build_model(config, FACTS).count_params()


@pytest.mark.parametrize("settings", [dict(tie_weights=True, embedding_dim=6), dict(tie_weights=True, layers=2),
                                      dict(context="full", layers=2),
                                      dict(level="char", cell="gru")])  # fmt: skip
def test_tied_full_context_and_char_models_are_counted_too(settings):
    config = Config(units=6, **({"embedding_dim": 5} | settings))
    assert parameter_count(config, FACTS) == build_model(config, FACTS).count_params()


def test_a_model_beyond_the_memory_given_is_refused_naming_the_settings_to_lower():
    config = tiny()
    needed = parameter_count(config, FACTS) * TRAINING_BYTES_PER_PARAMETER
    check_memory(config, FACTS, available=needed)  # exactly enough
    with pytest.raises(SettingError) as refused:
        check_memory(config, FACTS, available=needed - 1)
    assert "lower units, embedding_dim, layers or max_vocabulary" in str(refused.value)
    check_memory(config, FACTS, available=0)  # 0: the free memory is unknown, so nothing is refused
