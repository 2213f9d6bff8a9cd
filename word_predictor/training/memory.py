"""Whether a model's training fits in this machine's memory, asked before anything is written."""

from __future__ import annotations

import contextlib
from pathlib import Path

from word_predictor.config import Config, CorpusFacts, SettingError
from word_predictor.errors import UserError
from word_predictor.model.factory import parameter_count

# float32 weights, their gradients and Adam's two moments: 4 copies of 4 bytes.
TRAINING_BYTES_PER_PARAMETER = 16


def check_memory(config: Config, facts: CorpusFacts, available: int | None = None) -> None:
    """Refuse a model whose training would not fit in `available` bytes (default: this
    machine's free memory), before anything is written."""
    parameters = parameter_count(config, facts)
    needed = parameters * TRAINING_BYTES_PER_PARAMETER
    available = _available_memory() if available is None else available
    if available and needed > available:
        raise SettingError(
            "a model of {parameters:,} weights needs about {needed:.1f} GiB to train (weights, gradients and "
            "Adam's two moments), more than the {available:.1f} GiB of memory free here; lower {units}, "
            "{embedding_dim}, {layers} or {max_vocabulary}",
            parameters=parameters, needed=needed / 2**30, available=available / 2**30,
        )


def _available_memory() -> int:
    """Bytes of memory available (Linux's MemAvailable), 0 where unknown."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


class OutOfMemory(UserError, SettingError):
    """An allocation failed while training, despite check_memory; the completed epochs are kept."""


# What each backend raises when an allocation fails (by name: the backend's package may be absent).
_OUT_OF_MEMORY = ("ResourceExhaustedError", "OutOfMemoryError")


@contextlib.contextmanager
def out_of_memory_said():
    try:
        yield
    except Exception as error:
        if not (isinstance(error, MemoryError) or type(error).__name__ in _OUT_OF_MEMORY
                or "RESOURCE_EXHAUSTED" in str(error)[:200]):  # JAX's XlaRuntimeError  # fmt: skip
            raise
        raise OutOfMemory(
            "the machine ran out of memory while training ({kind}); the completed epochs are kept, but the same "
            "settings would run out again: train a new run with a lower {batch_size}, {units} or {max_vocabulary}",
            kind=type(error).__name__,
        ) from None
