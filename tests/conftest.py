"""Shared fixtures: a tiny corpus written here, and one tiny trained run per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from word_predictor import train

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# A few sentences of our own, repeated so every word clears a small unknown threshold.
TINY_TEXT = (
    "the cat sat on the mat and the dog sat on the rug . "
    "some of them look like a cat and some of them look like a dog . "
    "the bird sang in the tree and the cat looked at the bird . "
)


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    (folder / "more").mkdir(parents=True)
    (folder / "a.txt").write_text(TINY_TEXT * 12, encoding="utf-8")
    (folder / "more" / "b.txt").write_text(TINY_TEXT * 8, encoding="utf-8")
    return folder


TINY_FLAGS = ["--units", "8", "--embedding-dim", "4", "--epochs", "2", "--batch-size", "16",
              "--unknown-threshold", "1", "--log-every", "5"]  # fmt: skip


def train_tiny(corpus: Path, logdir: Path, *extra: str) -> int:
    return train.main(["--corpus", str(corpus), "--logdir", str(logdir), *TINY_FLAGS, *extra])


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """One tiny LSTM run, trained once and shared read-only by the tests that need one."""
    root = tmp_path_factory.mktemp("trained")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(TINY_TEXT * 20, encoding="utf-8")
    assert train_tiny(corpus, root / "logs", "--run-name", "tiny") == 0
    return root / "logs" / "tiny"
