"""The reading workers: in order, and small whatever the reading process holds."""

import os
from pathlib import Path

import numpy as np

from word_predictor.corpus.workers import PARALLEL_BYTES, in_order, workers_for


def _anonymous_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise AssertionError("no RssAnon line")


def test_workers_answer_in_order():
    assert list(in_order(abs, [-3, 1, -2, 5, -8], workers=2)) == [3, 1, 2, 5, 8]


def test_a_worker_does_not_hold_the_reading_process_memory():
    # The process that reads a corpus holds TensorFlow and the counts read so far; a worker
    # forked from it would hold every page of that too, counted again in its own resident
    # memory (one copy a worker). Workers start from a small process that holds neither.
    ballast = np.ones(256 << 20, np.uint8)  # 256 MiB resident in this process
    workers = {}
    for pid in in_order(os.readlink, ["/proc/self"] * 4, workers=2):
        workers[int(pid)] = _anonymous_kib(int(pid))  # the pool is still running
    assert workers and all(pid != os.getpid() for pid in workers)
    assert max(workers.values()) < (128 << 10), workers
    del ballast


def test_a_corpus_of_a_few_million_words_is_read_as_a_large_one():
    # A few million words (about 6 bytes a word) already use the workers that 100 times more
    # would, so a larger corpus does not bring processes of its own.
    assert workers_for(6 * 10_000_000, 0) == workers_for(6 * 100_000_000, 0)
    assert PARALLEL_BYTES <= 6 * 10_000_000 and workers_for(PARALLEL_BYTES - 1, 0) == 1


def test_the_commands_that_read_text_load_no_keras_when_imported():
    # Each worker imports the command's module (multiprocessing's rule for the main module of a
    # process it starts): one that loaded Keras would make every worker hold it.
    import subprocess
    import sys

    from tests.helpers import REPO

    code = ("import sys, word_predictor.train, word_predictor.evaluate; "
            "print(sorted({'keras', 'tensorflow', 'jax', 'torch'} & set(sys.modules)))")  # fmt: skip
    loaded = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
