"""The per-piece work of reading a corpus, in this process or in worker processes (the
allocator they run under is corpus/allocator.py's)."""

from __future__ import annotations

import collections
import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from word_predictor.corpus.allocator import fix_large_block_threshold
from word_predictor.corpus.counting import FirstSeen
from word_predictor.corpus.files import Piece, read_tokens
from word_predictor.corpus.store import DTYPE
from word_predictor.text.tokenizer import Tokenizer
from word_predictor.text.vocabulary import Vocabulary

# Corpora at least this large are read by worker processes: two pieces (build.PIECE_SIZE), the
# least that two workers can read side by side. Low enough that a corpus of a few million words
# is read the way a far larger one is, so a larger corpus does not bring worker processes with it.
PARALLEL_BYTES = 32 << 20
# ---------------------------------------------------------------- the passes


def read_piece(piece: Piece, tokenizer: Tokenizer, encoding_errors: str, read_size: int, spill: Path):
    """Pass 1 for one piece: its tokens as local ids (int32, numbered in order of first
    sight), written block by block to a file of their own in `spill`; returns that
    file, the number of tokens, the distinct tokens the ids name and their counts.
    The tokens and counts hold one entry per distinct token of the piece, so
    piece_size bounds them; the ids never gather in memory."""
    local, counts = FirstSeen(), np.zeros(0, np.int64)
    path = Path(spill) / f"{piece.file}-{piece.start}.int32"
    with open(path, "wb") as stream:
        for tokens in read_tokens(piece.path, tokenizer, encoding_errors, read_size=read_size,
                                  start=piece.start, end=piece.end):  # fmt: skip
            known = len(local)
            ids = np.fromiter(map(local.__getitem__, tokens), DTYPE, len(tokens))
            _compact_keys(local, known)
            stream.write(ids.data)
            counts = np.bincount(ids, minlength=len(local)) + np.pad(counts, (0, len(local) - counts.size))
    return path, int(counts.sum()), list(local), counts


def _compact_keys(local: FirstSeen, known: int) -> None:
    """Swap the keys added since `known` for copies made side by side. The originals
    are scattered among the block's other tokens, and each one kept alive would pin
    its block's memory: a worker would grow with every block it read."""
    fresh = list(itertools.islice(local, known, None))
    if not fresh:
        return
    for token in fresh:
        del local[token]
    local.update(zip("\0".join(fresh).split("\0"), range(known, known + len(fresh))))


def encode_piece(piece: Piece, vocabulary: Vocabulary, encoding_errors: str, read_size: int) -> np.ndarray:
    """One piece's tokens as ids of `vocabulary` (int32)."""
    parts = [
        vocabulary.encode(tokens)
        for tokens in read_tokens(piece.path, vocabulary.tokenizer, encoding_errors, read_size=read_size,
                                  start=piece.start, end=piece.end)  # fmt: skip
    ]
    return np.concatenate(parts) if parts else np.zeros(0, np.int32)


_worker_vocabulary: Vocabulary | None = None  # set once in each encode_files worker


def _start_worker(vocabulary: dict | None) -> None:
    """Each worker process: the allocator as the reading process tunes it, and the vocabulary
    encode_files shares, sent as its plain description (Vocabulary.to_dict)."""
    global _worker_vocabulary
    fix_large_block_threshold()
    if vocabulary is not None:
        _worker_vocabulary = Vocabulary.from_dict(vocabulary)


def encode_piece_in_worker(piece: Piece, encoding_errors: str, read_size: int) -> np.ndarray:
    return encode_piece(piece, _worker_vocabulary, encoding_errors, read_size)


def in_order(
    function: Callable, items: Sequence, workers: int, vocabulary: Vocabulary | None = None
) -> Iterator:
    """function(item) for each item, in order; with workers > 1 computed in that many
    processes, at most one task per worker and one more ahead of the caller (bounded
    memory). The workers run only this module's code, and are given `vocabulary`.
    """
    if workers <= 1:
        yield from map(function, items)
        return
    description = None if vocabulary is None else vocabulary.to_dict()
    with _process_context().Pool(workers, initializer=_start_worker, initargs=(description,)) as pool:
        pending: collections.deque = collections.deque()
        for item in items:
            pending.append(pool.apply_async(function, (item,)))
            if len(pending) > workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _process_context():
    """Where the platform has it, workers forked from a small server process that has imported
    this module alone, not from the reading process: a fork of a process that holds TensorFlow
    (and the counts read so far) would hold every page of it too, and each worker's resident
    memory would count them again (docs/benchmarks.md, "Memory"). A worker still imports the
    command's module, as multiprocessing does, so the commands load no Keras on import.
    Elsewhere, the platform's default."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])  # without "__main__": the command's module imports Keras
    return context


def workers_for(total_bytes: int, workers: int) -> int:
    if workers > 0:
        return workers
    return min(os.cpu_count() or 1, 4) if total_bytes >= PARALLEL_BYTES else 1
