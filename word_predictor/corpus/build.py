"""Folders of .txt files -> a token store on disk -> train, validation and test splits."""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from word_predictor.corpus.allocator import fix_large_block_threshold, return_freed_memory
from word_predictor.corpus.counting import CountTable, count_limit_for
from word_predictor.corpus.files import (
    READ_SIZE,
    CorpusError,
    CorpusSettingError,
    find_text_files,
    plan_pieces,
)
from word_predictor.corpus.splits import Corpus, Split, block_splits, split_bounds
from word_predictor.corpus.store import StoreWriter, TokenLists, open_store
from word_predictor.corpus.workers import (
    encode_piece,
    encode_piece_in_worker,
    in_order,
    read_piece,
    workers_for,
)
from word_predictor.errors import warn
from word_predictor.text.tokenizer import Tokenizer
from word_predictor.text.vocabulary import Vocabulary

PIECE_SIZE = 16 << 20  # bytes per unit of work: a worker's task, a step of the progress bar


class Progress(Protocol):
    def start(self, label: str, total: int) -> None: ...
    def advance(self, amount: int) -> None: ...
    def finish(self) -> None: ...


class NoProgress:
    def start(self, label: str, total: int) -> None:
        pass

    def advance(self, amount: int) -> None:
        pass

    def finish(self) -> None:
        pass

def build_corpus(
    paths: Sequence[str | os.PathLike], *, tokenizer: Tokenizer, unknown_threshold: int, max_vocabulary: int = 0,
    validation_fraction: float, test_fraction: float, block_size: Callable[[int], int], min_tokens: int = 1,
    encoding_errors: str = "strict", cache_dir: Path | None = None, progress: Progress | None = None,
    read_size: int = READ_SIZE, piece_size: int = PIECE_SIZE, count_limit: int = 0, workers: int = 0,
) -> Corpus:  # fmt: skip
    """Read, split and encode a corpus; the vocabulary comes from the train split alone.

    `block_size(n_tokens)` is the split block length; `min_tokens` the fewest tokens
    the caller can use; `max_vocabulary` keeps only that many of the most frequent
    tokens (0: no limit). With `cache_dir`, the token store is kept there and reused by
    later runs on the same files and settings; without, it lives in a temporary file.
    `read_size`, `piece_size` and `count_limit` (0: count_limit_for(max_vocabulary)) bound memory;
    `workers`: processes that read the text (0: one per core, up to 4, from PARALLEL_BYTES on, else 1).
    """
    progress = progress or NoProgress()
    count_limit = count_limit or count_limit_for(max_vocabulary)
    files = find_text_files(paths)
    stats = [os.stat(f) for f in files]
    key = _store_key(files, stats, tokenizer, encoding_errors, unknown_threshold, max_vocabulary,
                     validation_fraction, test_fraction, count_limit, piece_size)  # fmt: skip
    names = [str(f) for f in files]
    if cache_dir is not None and (cached := _cached_corpus(cache_dir, key, names, block_size, min_tokens, tokenizer)):
        return cached
    fix_large_block_threshold()  # workers tune their own (workers._start_worker)
    pieces = plan_pieces(files, [s.st_size for s in stats], piece_size)
    total_bytes = sum(s.st_size for s in stats)
    writer = _open_writer(cache_dir, key)
    with writer, _store_errors(writer):
        table, lists = CountTable(count_limit), TokenLists(writer.folder)
        read = functools.partial(read_piece, tokenizer=tokenizer, encoding_errors=encoding_errors,
                                 read_size=read_size, spill=writer.spill)  # fmt: skip
        progress.start(f"reading {len(files)} file(s)", total_bytes)
        piece_tokens = _read_pass(pieces, read, workers_for(total_bytes, workers), writer, lists, table, progress)
        progress.finish()
        if [(s.st_size, s.st_mtime_ns) for s in map(os.stat, files)] != [tuple(f[1:]) for f in key["files"]]:
            raise CorpusError("a corpus file changed while it was read; run again")
        file_tokens = np.bincount([p.file for p in pieces], weights=piece_tokens, minlength=len(files))
        n_tokens = int(file_tokens.sum())
        _check_length(n_tokens, min_tokens, tokenizer)
        _warn_of_empty_files(files, file_tokens, tokenizer)
        block = block_size(n_tokens)
        train = block_splits(math.ceil(n_tokens / block), validation_fraction, test_fraction) == 0
        level = _rule_of(tokenizer)
        candidates = Vocabulary.from_counts(table.upper_bounds(), unknown_threshold, **level)
        floor = table.floor
        del table  # freed before pass 2
        vocabulary = _vocabulary_pass(writer, lists, piece_tokens, candidates, train, block, tokenizer,
                                      unknown_threshold, max_vocabulary)  # fmt: skip
        _warn_of_gaps(vocabulary, floor, unknown_threshold, count_limit, tokenizer)
        # Pass 3: candidate ids -> vocabulary ids, checksum, rename into place.
        meta = {"file_tokens": file_tokens.astype(np.int64).tolist(), "block": block, "vocabulary": vocabulary.to_dict()}
        ids = writer.finish(vocabulary.encode(candidates.tokens), meta)
    return_freed_memory()
    return _corpus(ids, vocabulary, n_tokens, block, validation_fraction, test_fraction, names)


def _warn_of_empty_files(files, file_tokens, tokenizer) -> None:
    for path in (path for path, n_tokens in zip(files, file_tokens) if n_tokens == 0):
        warn(f"{path} holds no {tokenizer.unit}s after normalisation")


def _warn_of_gaps(vocabulary: Vocabulary, floor: int, unknown_threshold: int, count_limit: int, tokenizer) -> None:
    """Say whether the bounded count may have left a word out of the vocabulary. A word the
    table dropped is seen at most `floor` times; the vocabulary is exact when that is within
    the unknown threshold, or when it is full and its rarest word is seen more often."""
    full = vocabulary.max_size and len(vocabulary) - 1 >= vocabulary.max_size
    if floor <= unknown_threshold or (full and min(vocabulary.counts[1:]) > floor):
        return
    warn(
        f"the corpus has more distinct {tokenizer.unit}s than the {count_limit:,} counted at once, "
        f"so {tokenizer.unit}s seen {floor} times or fewer may be left out of the vocabulary"
    )


def _store_key(files, stats, tokenizer, encoding_errors, unknown_threshold, max_vocabulary, validation_fraction,
               test_fraction, count_limit, piece_size) -> dict:
    """What the token store's ids depend on: a cached store is reused only for the same key."""
    return {
        "files": [[str(Path(f).absolute()), s.st_size, s.st_mtime_ns] for f, s in zip(files, stats)],
        "level": tokenizer.level,
        "normalisation": tokenizer.normalisation,
        "normalisation_version": tokenizer.version,
        "encoding_errors": encoding_errors,
        "unknown_threshold": unknown_threshold,
        "max_vocabulary": max_vocabulary,
        "validation_fraction": validation_fraction,
        "test_fraction": test_fraction,
        # These change the ids only where the count table overflows.
        "count_limit": count_limit,
        "piece_size": piece_size,
    }


def _rule_of(tokenizer: Tokenizer) -> dict:
    """What a vocabulary records of the rule that read its text (the version too: an older one
    reads the text of a run begun under it)."""
    return dict(level=tokenizer.level, normalisation=tokenizer.normalisation, normalisation_version=tokenizer.version)


def _vocabulary_pass(writer, lists, piece_tokens, candidates, train, block, tokenizer, unknown_threshold,
                     max_vocabulary) -> Vocabulary:
    """Pass 2 (see _candidate_pass), then the vocabulary, counted on the training split alone."""
    level = _rule_of(tokenizer)
    train_counts = _candidate_pass(writer, lists, piece_tokens, candidates, train, block)
    vocabulary = Vocabulary.from_counts(
        dict(zip(candidates.tokens[1:], train_counts[1:].tolist())),
        unknown_threshold,
        max_size=max_vocabulary,
        unlisted=int(train_counts[0]),  # the training split's tokens that no candidate names
        **level,
    )
    _check_vocabulary(vocabulary, unknown_threshold, tokenizer)
    return vocabulary


def _read_pass(pieces, read, workers, writer, lists, table, progress) -> list[int]:
    """Pass 1, over the text: each piece's local ids to the store, its distinct tokens
    to `lists`, their counts into `table`. Returns the number of tokens of each piece."""
    piece_tokens = []
    for piece, (path, count, tokens, counts) in zip(pieces, in_order(read, pieces, workers)):
        writer.append_file(path, count)
        lists.append(tokens)
        table.merge(tokens, counts)
        piece_tokens.append(count)
        progress.advance(piece.end - piece.start)
    return piece_tokens


def _candidate_pass(
    writer, lists, piece_tokens, candidates: Vocabulary, train: np.ndarray, block: int
) -> np.ndarray:
    """Pass 2, over the store: local ids -> candidate ids in place. Returns how often
    each candidate occurs in the training split (`train`: one flag per block)."""
    counts = np.zeros(len(candidates), np.int64)
    position = 0
    for number, count in enumerate(piece_tokens):
        ids = candidates.encode(lists[number])[writer.read(position, count)]
        writer.write(position, ids)
        in_train = np.repeat(train[position // block : (position + count) // block + 1], block)
        counts += np.bincount(ids[in_train[position % block :][:count]], minlength=len(candidates))
        position += count
    return counts


def _cached_corpus(cache_dir, key, names, block_size, min_tokens, tokenizer) -> Corpus | None:
    found = open_store(Path(cache_dir), key)
    if found is None:
        return None
    ids, meta = found
    try:
        vocabulary = Vocabulary.from_dict(meta["vocabulary"])
    except (ValueError, KeyError):
        return None
    n_tokens = len(ids)
    _check_length(n_tokens, min_tokens, tokenizer)
    block = block_size(n_tokens)
    if meta.get("block") != block:  # the splits would differ, and with them the vocabulary
        return None
    return _corpus(ids, vocabulary, n_tokens, block, key["validation_fraction"], key["test_fraction"], names)


def _corpus(ids, vocabulary, n_tokens, block, validation_fraction, test_fraction, names) -> Corpus:
    bounds = split_bounds(n_tokens, block, validation_fraction, test_fraction)
    splits = {name: Split(ids, spans) for name, spans in bounds.items()}
    return Corpus(vocabulary=vocabulary, splits=splits, files=names)


def _check_length(n_tokens: int, min_tokens: int, tokenizer: Tokenizer) -> None:
    if n_tokens < min_tokens:
        raise CorpusSettingError(
            "the corpus has {n_tokens} {unit}(s) after normalisation, fewer than the {min_tokens} "
            "needed for one context and its target; add text or shorten the context ({window_size})",
            n_tokens=n_tokens, unit=tokenizer.unit, min_tokens=min_tokens,
        )


def _check_vocabulary(vocabulary: Vocabulary, unknown_threshold: int, tokenizer: Tokenizer) -> None:
    if len(vocabulary) < 2:
        raise CorpusSettingError(
            "every {unit} of the training text appears {threshold} time(s) or fewer, so "
            "the vocabulary holds only the unknown symbol; lower {unknown_threshold} or add text",
            unit=tokenizer.unit, threshold=unknown_threshold,
        )


def _open_writer(cache_dir: Path | None, key: dict | None) -> StoreWriter:
    if cache_dir is not None:
        with contextlib.suppress(OSError):
            return StoreWriter(Path(cache_dir), key)
        # An unwritable cache only costs the time of reading next time.
    try:
        return StoreWriter(None)
    except OSError as error:
        problem = error.strerror or error
        raise CorpusError(f"cannot create a temporary file for the token store: {problem}") from None


@contextlib.contextmanager
def _store_errors(writer: StoreWriter):
    """Turn a failed write of the store (a full disk) into one line; the writer
    removes its partial file as the exception leaves its `with`."""
    try:
        yield
    except OSError as error:
        where = writer.folder or "the temporary folder (TMPDIR)"
        raise CorpusSettingError(
            "cannot write the token store in {where}: {problem}; free some space there"
            + (" or turn the cache off ({use_cache})" if writer.folder else ""),
            where=where, problem=error.strerror or error,
        ) from None


def encode_files(
    paths: Sequence[str | os.PathLike],
    vocabulary: Vocabulary,
    encoding_errors: str = "strict",
    *,
    read_size: int = READ_SIZE,
    piece_size: int = PIECE_SIZE,
    workers: int = 0,
    setting: str = "text",
) -> Split:
    """Text files as ids of `vocabulary` (read with its tokenizer), one segment per
    file, in a temporary memory-mapped file (for evaluation); `setting` names the
    setting the paths came from in error messages."""
    files = find_text_files(paths, setting)
    sizes = [os.stat(f).st_size for f in files]
    pieces = plan_pieces(files, sizes, piece_size)
    workers = workers_for(sum(sizes), workers)
    lengths = np.zeros(len(files), np.int64)
    writer = _open_writer(None, None)
    with writer, _store_errors(writer):
        function = functools.partial(
            encode_piece_in_worker if workers > 1 else encode_piece, encoding_errors=encoding_errors,
            read_size=read_size, **({} if workers > 1 else {"vocabulary": vocabulary}),
        )  # fmt: skip
        for piece, ids in zip(pieces, in_order(function, pieces, workers, vocabulary=vocabulary)):
            writer.append(ids)
            lengths[piece.file] += len(ids)
        for path, length in zip(files, lengths):
            if length == 0:
                warn(f"{path} holds no {vocabulary.tokenizer.unit}s after normalisation")
        ids = writer.finish()
    return Split.from_lengths(ids, lengths)
