"""The server's fixtures: a tiny character run beside conftest's word run, and an app on each."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.helpers import tiny_run

# The JAX environment of CI (which runs only `-m backend`) has no server extra: there these
# files are not collected at all, rather than skipped every time. requirements.txt installs it.
collect_ignore_glob = [] if importlib.util.find_spec("fastapi") else ["test_*.py"]


@pytest.fixture(scope="session")
def char_run(tmp_path_factory) -> Path:
    """One tiny character-level run, shared read-only by the server's tests."""
    return tiny_run(tmp_path_factory, "--level", "char", "--bptt", "20", "--batch-size", "4", "--epochs", "1",
                    name="char", logdir="serve-char")  # fmt: skip


@pytest.fixture(scope="session")
def word_engine(trained_run):
    from word_predictor.server.engine import load

    return load(trained_run)


@pytest.fixture(scope="session")
def char_engine(char_run):
    from word_predictor.server.engine import load

    return load(char_run)


@pytest.fixture(scope="session")
def word_client(word_engine):
    from tests.server.live import client_of

    with client_of(word_engine) as client:
        yield client


@pytest.fixture(scope="session")
def char_client(char_engine):
    from tests.server.live import client_of

    with client_of(char_engine) as client:
        yield client


@pytest.fixture(scope="session")
def exported_run(trained_run, tmp_path_factory) -> Path:
    """The tiny word run exported to ONNX (CI's TensorFlow environment has the export extra)."""
    from word_predictor import export as export

    out = tmp_path_factory.mktemp("serve-exported") / "tiny-onnx"
    assert export.main(["--run", str(trained_run), "--format", "onnx", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def exported_engine(exported_run):
    from word_predictor.server.engine import load

    return load(exported_run)


@pytest.fixture(scope="session")
def exported_client(exported_engine):
    from tests.server.live import client_of

    with client_of(exported_engine) as client:
        yield client

