"""batches.kinds: each context's answers without Keras, which the settings, the model
factory, the predictor, the exporter and the runtime ask instead of comparing names."""

from __future__ import annotations

import subprocess
import sys

import pytest

from word_predictor.batches.kinds import CONTEXTS, KINDS, ContextKind, FullKind, WindowKind, kind_of
from word_predictor.config import Config, unused_settings

WINDOW = Config(context="window", window_size=4, bptt=9)
FULL = Config(context="full", window_size=4, bptt=9)


def test_a_window_reads_its_last_window_and_carries_nothing():
    kind = kind_of(WINDOW)
    assert isinstance(kind, WindowKind)
    assert kind.cut(list("abcdef")) == list("cdef") and kind.cut(list("ab")) == list("ab")
    assert (kind.longest_context, kind.step_length, kind.example_length) == (4, 4, 4)
    assert not (kind.trains_with_carried_state or kind.explicit_states or kind.answers_every_position)
    assert kind.allows_bidirectional and kind.unused_settings == {"bptt"}


def test_the_full_context_reads_everything_and_carries_its_state():
    kind = kind_of(FULL)
    assert isinstance(kind, FullKind)
    assert kind.cut(list("abcdef")) == list("abcdef")
    assert (kind.longest_context, kind.step_length, kind.example_length) == (None, 1, 9)
    assert kind.trains_with_carried_state and kind.explicit_states and kind.answers_every_position
    assert not kind.allows_bidirectional and kind.unused_settings == {"window_size"}


def test_the_settings_ask_the_kind():
    assert unused_settings(WINDOW) == {"bptt"} and unused_settings(FULL) == {"window_size"}
    assert (WINDOW.batch_size, FULL.batch_size) == (128, 32)  # each kind's default_batch_size
    assert Config(context="full", one_hot=True).batch_size == 32
    assert unused_settings(Config(context="full", one_hot=True)) == {"window_size", "embedding_dim"}


def test_every_kind_answers_every_question():
    questions = list(ContextKind.__annotations__)  # the answers each kind declares
    assert "explicit_states" in questions and "unused_settings" in questions
    for name in CONTEXTS:
        kind = KINDS[name](Config(context=name))
        assert kind.name == name
        for question in questions:
            assert hasattr(kind, question), f"{name} does not answer {question}"
        assert kind.step_length >= 1  # not left to the base's NotImplementedError
        assert kind.longest_context is None or kind.longest_context >= 1


def test_an_unknown_context_is_a_value_error_with_the_choices():
    with pytest.raises(ValueError, match="'sideways'; choose one of window, full"):
        kind_of(Config(context="sideways"))


def test_the_kinds_load_without_keras():
    # What config, the predictor and the runtime import must not load Keras (the runtime's CI has none).
    code = ("import sys, word_predictor.batches.kinds, word_predictor.config; "
            "print(any(m.split('.')[0] in ('keras', 'tensorflow') for m in sys.modules))")  # fmt: skip
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
