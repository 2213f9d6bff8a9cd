"""Shared fixtures: a tiny corpus written here, and tiny trained runs, each trained once per session.

What the fixtures build from, and what tests share besides, lives in tests/helpers.py.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

# The tests that press Ctrl-C (predict --interactive, serve, train) need their children to
# take SIGINT. A shell starts a background job with SIGINT ignored, and an ignored signal
# stays ignored across exec; a handler does not, so with one here every child starts with
# the default, as it would from a terminal (.ci/run runs its test passes side by side).
signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    from tests.helpers import TINY_TEXT  # here: helpers load Keras (not for the runtime)
    folder = tmp_path / "corpus"
    (folder / "more").mkdir(parents=True)
    (folder / "a.txt").write_text(TINY_TEXT * 12, encoding="utf-8")
    (folder / "more" / "b.txt").write_text(TINY_TEXT * 8, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """One tiny LSTM run, trained once and shared read-only by the tests that need one."""
    from tests.helpers import tiny_run  # here: helpers load Keras (not for the runtime)
    return tiny_run(tmp_path_factory)


@pytest.fixture(scope="session")
def monitored_logdir(tmp_path_factory) -> Path:
    """A logdir with two tiny runs side by side, as the HParams dashboard compares them.

    "gru": every monitoring flag (--histograms, --log-every 1, a --sample-prompt, a
    non-default --learning-rate); "bi": a bidirectional one-hot SimpleRNN, trained after it.
    """
    from tests.helpers import tiny_run  # here: helpers load Keras (not for the runtime)
    gru = ["--cell", "gru", "--histograms", "--log-every", "1", "--learning-rate", "0.01",
           "--sample-prompt", "the cat sat"]  # fmt: skip
    tiny_run(tmp_path_factory, *gru, name="gru", logdir="monitored")
    bi = ["--cell", "simple_rnn", "--bidirectional", "--one-hot", "--log-every", "3"]
    return tiny_run(tmp_path_factory, *bi, name="bi", logdir="monitored").parent


@pytest.fixture(scope="session")
def trained_full_run(tmp_path_factory) -> Path:
    """One tiny full-context LSTM run (the state carried token by token), shared read-only."""
    from tests.helpers import tiny_run  # here: helpers load Keras (not for the runtime)
    return tiny_run(tmp_path_factory, "--context", "full", "--bptt", "5", "--batch-size", "4",
                    name="tiny-full", logdir="trained-full")  # fmt: skip


@pytest.fixture(params=["window", "full"])
def either_run(request) -> Path:
    """The tiny window run, then the tiny full-context run."""
    return request.getfixturevalue("trained_run" if request.param == "window" else "trained_full_run")
