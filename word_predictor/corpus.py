"""Folders of .txt files -> a token store on disk -> train, validation and test splits.

The text is read once, in pieces, and memory stays bounded whatever the size of
the corpus: neither the text nor a list of its tokens is ever held whole.

    files (sorted) --pieces of 16 MiB, cut where a token cannot be split-->
    pass 1 (text)  each piece, read in blocks --tokens--> local ids (first sight in
                   the piece), spilled block by block to a file of the piece's own,
                   then appended to the store (int32 file); the piece's distinct
                   tokens to a temporary file; their counts merged into a bounded
                   table
                   --> total tokens --block_size(total)--> the split layout
                   --> candidates: tokens the table says may pass the threshold
    pass 2 (store) each piece's local ids -> candidate ids, in place; np.bincount
                   over the training blocks counts the candidates exactly
                   --> Vocabulary (training split only)
    pass 3 (store) candidate ids -> vocabulary ids in place, with a checksum; renamed
                   into place and memory-mapped read-only
    splits = index ranges into the one shared id array

Pieces are read in worker processes when the corpus is large (`workers`); the
result does not depend on how many. A store for the same files and settings is
reused by later runs (see store.py).

The counting table holds at most `count_limit` entries (see CountTable): with no
more distinct tokens than that it is exact; beyond, only tokens seen at most
`floor` times in the whole corpus can be missed, and build_corpus says so when the
floor passes the unknown threshold (only then can the vocabulary differ).
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import ctypes
import ctypes.util
import functools
import itertools
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

import numpy as np

from word_predictor import store
from word_predictor.errors import UserError, warn
from word_predictor.text import ASCII_WORDS, Tokenizer, Vocabulary

ENCODING_ERRORS = ("strict", "replace", "skip")
SPLITS = ("train", "validation", "test")

READ_SIZE = 1 << 20  # bytes per read
PIECE_SIZE = 16 << 20  # bytes per unit of work: a worker's task, a step of the progress bar
# Distinct tokens counted at once: bounds the counting memory (a dict entry and a string each).
COUNT_LIMIT = 2_000_000
PARALLEL_BYTES = 64 << 20  # corpora at least this large are read by worker processes
# A run of text with no line break or space this long is cut, so one giant line can't hold memory.
_MAX_CARRY_CHARS = 1 << 20
_GOLDEN = (math.sqrt(5) - 1) / 2

# 'replace' turns each invalid byte sequence into a word break; 'skip' drops it.
codecs.register_error("word_predictor_space", lambda error: (" ", error.end))
_DECODE_ERRORS = {"strict": "strict", "replace": "word_predictor_space", "skip": "ignore"}


class CorpusError(UserError):
    pass


@dataclass
class Split:
    """One split: segments of a token array; windows and lanes never cross a segment edge.

    `ids` may be shared by every split of a corpus (and may be memory-mapped);
    `bounds` holds each segment's [start, end) in it.
    """

    ids: np.ndarray  # int32
    bounds: np.ndarray  # int64, (segments, 2)

    @classmethod
    def from_lengths(cls, ids: np.ndarray, segment_lengths) -> Split:
        """Segments laid one after another in `ids`."""
        ends = np.cumsum(np.asarray(segment_lengths, dtype=np.int64))
        return cls(ids=ids, bounds=np.stack([ends - np.asarray(segment_lengths, np.int64), ends], axis=1))

    @property
    def segment_lengths(self) -> np.ndarray:
        return (self.bounds[:, 1] - self.bounds[:, 0]).astype(np.int64)

    @property
    def tokens(self) -> int:
        return int(self.segment_lengths.sum())

    def segments(self) -> Iterator[np.ndarray]:
        for start, end in self.bounds:
            yield self.ids[start:end]

    def compact(self) -> Split:
        """The same segments, copied one after another into an array of their own."""
        parts = list(self.segments())
        ids = np.concatenate(parts).astype(np.int32) if parts else np.zeros(0, np.int32)
        return Split.from_lengths(ids, self.segment_lengths)


@dataclass
class Corpus:
    vocabulary: Vocabulary
    splits: dict[str, Split]
    files: list[str]

    @property
    def tokens(self) -> int:
        return sum(split.tokens for split in self.splits.values())


# ---------------------------------------------------------------- finding and reading files


def find_text_files(paths: Sequence[str | os.PathLike], flag: str = "--corpus") -> list[Path]:
    """Every *.txt below each path (a file is taken as given), sorted, each once.

    `flag` is the option the paths came from, named in the error messages.
    """
    found: dict[str, Path] = {}
    for root in map(Path, paths):
        if root.is_file():
            found.setdefault(os.path.realpath(root), root)
        elif root.is_dir():
            for path in _walk_txt(root):
                found.setdefault(os.path.realpath(path), path)
        elif root.exists():  # a FIFO, a socket, a device: reading it could block or never end
            raise CorpusError(f"{flag} {root} is not a regular file or folder; pass a text file or a folder")
        else:
            raise CorpusError(f"{flag} {root} does not exist; pass {flag} FOLDER_OR_FILE")
    if not found:
        shown = ", ".join(str(p) for p in paths)
        raise CorpusError(f"no .txt files found in {shown}; add some or pass {flag} FOLDER_OR_FILE")
    return sorted(found.values())


def _walk_txt(root: Path) -> Iterator[Path]:
    # Follows symbolic links to folders, but visits each real folder once, so a
    # link loop ends instead of recursing forever.
    seen: set[tuple[int, int]] = set()
    for folder, subfolders, filenames in os.walk(root, followlinks=True, onerror=_unreadable_folder):
        stat = os.stat(folder)
        if (stat.st_dev, stat.st_ino) in seen:
            subfolders[:] = []
            continue
        seen.add((stat.st_dev, stat.st_ino))
        subfolders.sort()
        for name in sorted(filenames):
            path = Path(folder, name)
            if name.lower().endswith(".txt") and path.is_file():
                yield path


def _unreadable_folder(error: OSError) -> None:
    # os.walk would skip the folder silently, and its text with it.
    raise CorpusError(f"cannot read folder {error.filename}: {error.strerror or error}")


def read_tokens(
    path: Path,
    tokenizer: Tokenizer,
    encoding_errors: str = "strict",
    *,
    read_size: int = READ_SIZE,
    start: int = 0,
    end: int | None = None,
) -> Iterator[list[str]]:
    """Tokens of bytes [start, end) of one UTF-8 file, a block of `read_size` bytes at a time.

    Text after the block's last safe cut (Tokenizer.safe_cut) waits for the next
    block, so a token is never split. Raises CorpusError for invalid UTF-8 (under
    'strict', naming the byte offset in the file), a binary file or an unreadable one.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors=_DECODE_ERRORS[encoding_errors])
    offset = start
    carry = ""
    try:
        with open(path, "rb") as stream:
            stream.seek(start)
            while True:
                size = read_size if end is None else min(read_size, end - offset)
                block = stream.read(size) if size > 0 else b""
                if b"\0" in block:
                    raise CorpusError(f"{path} looks binary (it holds NUL bytes); remove it from the corpus")
                pending = len(decoder.getstate()[0])
                try:
                    text = decoder.decode(block, final=not block)
                except UnicodeDecodeError as error:
                    at = offset - pending + error.start
                    raise CorpusError(
                        f"{path} is not valid UTF-8 at byte {at}; fix or convert the file, "
                        "or pass --encoding-errors replace|skip"
                    ) from None
                offset += len(block)
                text = carry + text
                if not block:
                    yield tokenizer.tokens(text)
                    return
                cut = tokenizer.safe_cut(text)
                if cut == 0 and len(text) < _MAX_CARRY_CHARS:
                    carry = text
                    continue
                cut = cut or len(text)
                carry = text[cut:]
                yield tokenizer.tokens(text[:cut])
    except OSError as error:
        raise CorpusError(f"cannot read {path}: {error.strerror or error}") from None


_BLOCK_BYTES = READ_SIZE  # read_words' block size, for the tests that still set it


def read_words(path: Path, encoding_errors: str = "strict") -> Iterator[list[str]]:
    """`read_tokens` under the original study's rule (text.words), in blocks of _BLOCK_BYTES."""
    return read_tokens(path, ASCII_WORDS, encoding_errors, read_size=_BLOCK_BYTES)


@dataclass(frozen=True)
class Piece:
    """Bytes [start, end) of one file: the unit of reading, a task for a worker."""

    file: int  # index into the sorted file list
    path: Path
    start: int
    end: int


def plan_pieces(files: Sequence[Path], sizes: Sequence[int], piece_size: int) -> list[Piece]:
    """Cut each file into pieces of about `piece_size` bytes, each cut at a place where
    Tokenizer.safe_cut would cut (just after a line break or just before a space),
    so every piece tokenises on its own exactly as within the whole file."""
    pieces = []
    for number, (path, size) in enumerate(zip(files, sizes)):
        start = 0
        try:
            with open(path, "rb") as stream:
                while size - start > piece_size:
                    cut = _cut_near(stream, start + piece_size, size)
                    if cut is None:
                        break
                    pieces.append(Piece(number, path, start, cut))
                    start = cut
        except OSError as error:
            raise CorpusError(f"cannot read {path}: {error.strerror or error}") from None
        pieces.append(Piece(number, path, start, size))
    return pieces


def _cut_near(stream, target: int, size: int, window: int = 1 << 16, reach: int = 1 << 20) -> int | None:
    # Both bytes are ASCII, so the cut is also between two whole UTF-8 characters.
    for offset in range(target, min(target + reach, size), window):
        stream.seek(offset)
        data = stream.read(window)
        line_break, space = data.find(b"\n"), data.find(b" ")
        if line_break >= 0 and (space < 0 or line_break < space):
            return offset + line_break + 1  # just after the line break
        if space >= 0:
            return offset + space  # just before the space
    return None


# ---------------------------------------------------------------- counting in bounded memory


class _FirstSeen(dict):
    """token -> its number in the order of first sight: local ids, table slots."""

    def __missing__(self, token: str) -> int:
        number = self[token] = len(self)
        return number


class CountTable:
    """Counts of tokens in at most `limit` entries, as upper bounds.

    Each entry holds an upper bound on its token's count, less `floor`; a token
    without an entry was seen at most `floor` times. When merging more counts would
    pass `limit` entries, the table keeps its `limit // 2` largest entries: it drops
    every entry of at most k, lowers the others by k and raises `floor` by k (so
    every bound is unchanged). A token dropped and seen again restarts from the
    floor, which covers what it had. Hence, at the end:

        entry <= true count <= entry + floor   for every token with an entry
        true count <= floor                    for every other token

    With at most `limit` distinct tokens nothing is ever dropped, the floor is 0
    and the counts are exact. Tokens whose bound passes the unknown threshold are
    the candidates that pass 2 counts exactly on the training split, so the
    vocabulary is exact whenever floor <= unknown_threshold; otherwise only tokens
    seen at most `floor` times in the whole corpus can be missed. A prune by k takes
    k from at least `limit // 2 + 1` entries, so for N tokens counted the floor never
    passes N / (limit // 2 + 1).
    """

    def __init__(self, limit: int = COUNT_LIMIT):
        if limit < 2:
            raise ValueError("a count table needs a limit of at least 2 entries")
        self.limit = limit
        self.floor = 0
        self.peak = 0  # the most entries ever held
        # token -> slot, and each slot's token and entry: the entries live in NumPy,
        # so merging a piece's counts is one C-level pass, not a Python loop.
        self._slots: _FirstSeen = _FirstSeen()
        self._tokens: list[str] = []
        self._entries = np.zeros(1024, np.int64)

    def __len__(self) -> int:
        return len(self._slots)

    def merge(self, tokens: Sequence[str], counts: Sequence[int]) -> None:
        """Add the exact counts of distinct `tokens` (those of one piece of text)."""
        counts = np.asarray(counts, np.int64)
        if counts.shape != (len(tokens),):
            raise ValueError("merge needs one count per token")
        step = self.limit // 2
        for first in range(0, len(tokens), step):
            part = tokens[first : first + step]
            # Prune only if the new tokens would not fit (counted when they might not).
            if len(self) + len(part) > self.limit:
                if len(self) + sum(token not in self._slots for token in part) > self.limit:
                    self._prune()
            known = len(self)
            # A new token gets the next slot: known, known + 1, ...
            slots = np.fromiter(map(self._slots.__getitem__, part), np.int64, len(part))
            self._tokens += [part[i] for i in np.flatnonzero(slots >= known).tolist()]
            if len(self) > self._entries.size:  # room for twice as many
                self._entries = np.concatenate([self._entries, np.zeros(len(self), np.int64)])
            self._entries[slots] += counts[first : first + step]
            self.peak = max(self.peak, len(self))

    @property
    def counts(self) -> dict[str, int]:
        """Each entry (a bound less `floor`), by token."""
        return dict(zip(self._tokens, self._entries[: len(self)].tolist()))

    def upper_bounds(self) -> dict[str, int]:
        return dict(zip(self._tokens, (self._entries[: len(self)] + self.floor).tolist()))

    def _prune(self) -> None:
        keep = self.limit // 2
        values = self._entries[: len(self)]
        if values.size <= keep:
            return
        k = int(np.partition(values, values.size - keep - 1)[values.size - keep - 1])
        kept = np.flatnonzero(values > k)
        self._tokens = [self._tokens[i] for i in kept.tolist()]
        self._slots = _FirstSeen(zip(self._tokens, range(len(kept))))
        self._entries = np.concatenate([values[kept] - k, np.zeros(self._entries.size - kept.size, np.int64)])
        self.floor += k


# ---------------------------------------------------------------- splits


def window_block_size(window_size: int) -> Callable[[int], int]:
    """The split block length that windows of `window_size` tokens use (as before)."""
    return lambda n_tokens: max(2 * (window_size + 1), min(1000, n_tokens // 100))


def block_splits(n_blocks: int, validation_fraction: float, test_fraction: float) -> np.ndarray:
    """Which split each block goes to (an index into SPLITS), spread evenly through the
    text by a golden-ratio sequence, so each split samples every part of the corpus."""
    u = ((np.arange(n_blocks, dtype=np.float64) + 0.5) * _GOLDEN) % 1.0
    labels = np.zeros(n_blocks, np.uint8)  # train
    labels[u < test_fraction + validation_fraction] = SPLITS.index("validation")
    labels[u < test_fraction] = SPLITS.index("test")
    return labels


def split_bounds(
    n_tokens: int, block: int, validation_fraction: float, test_fraction: float
) -> dict[str, np.ndarray]:
    """Cut [0, n_tokens) into blocks of `block` tokens and deal them to the splits;
    neighbouring blocks of one split merge into one segment:

        | train | test | train  train | validation | train | test | ...
    """
    labels = block_splits(math.ceil(n_tokens / block), validation_fraction, test_fraction)
    bounds = {}
    for number, name in enumerate(SPLITS):
        inside = np.concatenate([[False], labels == number, [False]])
        edges = np.flatnonzero(inside[1:] != inside[:-1]).reshape(-1, 2).astype(np.int64)
        bounds[name] = np.minimum(edges * block, n_tokens)
    return bounds


def split_segments(
    n_tokens: int, window_size: int, validation_fraction: float, test_fraction: float
) -> dict[str, list[tuple[int, int]]]:
    """split_bounds with the block length windows use, as lists of (start, end)."""
    block = window_block_size(window_size)(n_tokens)
    bounds = split_bounds(n_tokens, block, validation_fraction, test_fraction)
    return {name: [(int(a), int(b)) for a, b in spans] for name, spans in bounds.items()}


# ---------------------------------------------------------------- progress


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


class ProgressBar:
    """Bytes read of the total, the rate and the time left, on `stream` (stderr):
    redrawn in place on a terminal, else a plain line at most every `interval`
    seconds (and a last one when done, if any was written)."""

    def __init__(self, stream: TextIO | None = None, *, interval: float = 30.0, clock=time.monotonic):
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty()
        self.interval = interval if not self.terminal else 0.2
        self.clock = clock
        self.start("", 0)

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.started = self.shown = self.clock()
        self.lines = 0

    def advance(self, amount: int) -> None:
        self.done += amount
        if self.clock() - self.shown >= self.interval:
            self._show()

    def finish(self) -> None:
        if self.terminal or self.lines:
            self._show()
        if self.terminal:
            self.stream.write("\n")
            self.stream.flush()

    def describe(self) -> str:
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        bar = ""
        if self.terminal:
            filled = int(24 * self.done / self.total) if self.total else 24
            bar = "[" + "#" * filled + "." * (24 - filled) + "] "
        return (f"{self.label}: {bar}{self.done / 1e6:,.1f} of {self.total / 1e6:,.1f} MB, "
                f"{rate / 1e6:,.1f} MB/s, {_duration(left)} left")  # fmt: skip

    def _show(self) -> None:
        self.shown = self.clock()
        self.lines += 1
        # On a terminal: back to the line's start, clear it, draw; elsewhere one line.
        line = f"\r\033[K{self.describe()}" if self.terminal else f"{self.describe()}\n"
        self.stream.write(line)
        self.stream.flush()


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# ---------------------------------------------------------------- the passes


def _read_piece(piece: Piece, tokenizer: Tokenizer, encoding_errors: str, read_size: int, spill: Path):
    """Pass 1 for one piece: its tokens as local ids (int32, numbered in order of first
    sight), written block by block to a file of their own in `spill`; returns that
    file, the number of tokens, the distinct tokens the ids name and their counts.
    The tokens and counts hold one entry per distinct token of the piece, so
    piece_size bounds them; the ids never gather in memory."""
    local, counts = _FirstSeen(), np.zeros(0, np.int64)
    path = Path(spill) / f"{piece.file}-{piece.start}.int32"
    with open(path, "wb") as stream:
        for tokens in read_tokens(piece.path, tokenizer, encoding_errors, read_size=read_size,
                                  start=piece.start, end=piece.end):  # fmt: skip
            known = len(local)
            ids = np.fromiter(map(local.__getitem__, tokens), store.DTYPE, len(tokens))
            _compact_keys(local, known)
            stream.write(ids.data)
            counts = np.bincount(ids, minlength=len(local)) + np.pad(counts, (0, len(local) - counts.size))
    return path, int(counts.sum()), list(local), counts


def _compact_keys(local: _FirstSeen, known: int) -> None:
    """Swap the keys added since `known` for copies made side by side. The originals
    are scattered among the block's other tokens, and each one kept alive would pin
    its block's memory: a worker would grow with every block it read."""
    fresh = list(itertools.islice(local, known, None))
    if not fresh:
        return
    for token in fresh:
        del local[token]
    local.update(zip("\0".join(fresh).split("\0"), range(known, known + len(fresh))))


def _encode_piece(piece: Piece, vocabulary: Vocabulary, encoding_errors: str, read_size: int) -> np.ndarray:
    """One piece's tokens as ids of `vocabulary` (int32)."""
    parts = [
        vocabulary.encode(tokens)
        for tokens in read_tokens(piece.path, vocabulary.tokenizer, encoding_errors, read_size=read_size,
                                  start=piece.start, end=piece.end)  # fmt: skip
    ]
    return np.concatenate(parts) if parts else np.zeros(0, np.int32)


_worker_vocabulary: Vocabulary | None = None  # set once in each encode_files worker


def _set_worker_vocabulary(vocabulary: Vocabulary) -> None:
    global _worker_vocabulary
    _worker_vocabulary = vocabulary


def _encode_piece_in_worker(piece: Piece, encoding_errors: str, read_size: int) -> np.ndarray:
    return _encode_piece(piece, _worker_vocabulary, encoding_errors, read_size)


def _in_order(
    function: Callable, items: Sequence, workers: int, vocabulary: Vocabulary | None = None
) -> Iterator:
    """function(item) for each item, in order; with workers > 1 computed in that many
    processes, at most one task per worker and one more ahead of the caller (bounded
    memory).

    Workers are forked where the platform allows it, so they start at once and share
    `vocabulary` without pickling it; they run only this module's code.
    """
    if workers <= 1:
        yield from map(function, items)
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    initializer, initargs = (_set_worker_vocabulary, (vocabulary,)) if vocabulary is not None else (None, ())
    with context.Pool(workers, initializer=initializer, initargs=initargs) as pool:
        pending: collections.deque = collections.deque()
        for item in items:
            pending.append(pool.apply_async(function, (item,)))
            if len(pending) > workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _fix_large_block_threshold() -> None:
    """glibc's malloc serves blocks above a threshold from their own mappings, handed
    back to the system when freed, and raises that threshold to the size of each such
    block freed. The arrays of each piece then come from the heap, which grows with
    every piece read: fixed at 1 MiB, peak memory no longer grows with the corpus
    (docs/benchmarks.md, section 16). Other platforms keep their allocator as it is."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError, TypeError):
            ctypes.CDLL(ctypes.util.find_library("c")).mallopt(_M_MMAP_THRESHOLD, 1 << 20)


_M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's malloc.h


def _workers_for(total_bytes: int, workers: int) -> int:
    if workers > 0:
        return workers
    return min(os.cpu_count() or 1, 4) if total_bytes >= PARALLEL_BYTES else 1


def build_corpus(
    paths: Sequence[str | os.PathLike],
    *,
    tokenizer: Tokenizer,
    unknown_threshold: int,
    max_vocabulary: int = 0,
    validation_fraction: float,
    test_fraction: float,
    block_size: Callable[[int], int],
    min_tokens: int = 1,
    encoding_errors: str = "strict",
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    read_size: int = READ_SIZE,
    piece_size: int = PIECE_SIZE,
    count_limit: int = COUNT_LIMIT,
    workers: int = 0,
) -> Corpus:
    """Read, split and encode a corpus; the vocabulary comes from the train split alone.

    `block_size(n_tokens)` is the split block length; `min_tokens` the fewest tokens
    the caller can use; `max_vocabulary` keeps only that many of the most frequent
    tokens (0: no limit). With `cache_dir`, the token store is kept there and reused
    by later runs on the same files and settings; without, it lives in a temporary
    file. `read_size`, `piece_size` and `count_limit` bound memory (see above);
    `workers`: processes that read the text (0: one per core, up to 4, for corpora
    of PARALLEL_BYTES or more, else 1).
    """
    progress = progress or NoProgress()
    files = find_text_files(paths)
    stats = [os.stat(f) for f in files]
    key = {
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
    names = [str(f) for f in files]
    if cache_dir is not None:
        cached = _cached_corpus(cache_dir, key, names, block_size, min_tokens, tokenizer)
        if cached is not None:
            return cached

    _fix_large_block_threshold()  # before the workers fork: they inherit it
    pieces = plan_pieces(files, [s.st_size for s in stats], piece_size)
    total_bytes = sum(s.st_size for s in stats)
    writer = _open_writer(cache_dir, key)
    with writer, _store_errors(writer):
        table, lists = CountTable(count_limit), store.TokenLists(writer.folder)
        progress.start(f"reading {len(files)} file(s)", total_bytes)
        read = functools.partial(_read_piece, tokenizer=tokenizer, encoding_errors=encoding_errors,
                                 read_size=read_size, spill=writer.spill)  # fmt: skip
        workers = _workers_for(total_bytes, workers)
        piece_tokens = _read_pass(pieces, read, workers, writer, lists, table, progress)
        progress.finish()
        if [(s.st_size, s.st_mtime_ns) for s in map(os.stat, files)] != [tuple(f[1:]) for f in key["files"]]:
            raise CorpusError("a corpus file changed while it was read; run again")

        file_tokens = np.bincount([p.file for p in pieces], weights=piece_tokens, minlength=len(files))
        for path, n_tokens in zip(files, file_tokens):
            if n_tokens == 0:
                warn(f"{path} holds no {tokenizer.unit}s after normalisation")
        n_tokens = int(file_tokens.sum())
        _check_length(n_tokens, min_tokens, tokenizer)
        if table.floor > unknown_threshold:
            warn(
                f"the corpus has more distinct {tokenizer.unit}s than the {count_limit:,} counted at once, "
                f"so {tokenizer.unit}s seen {table.floor} times or fewer may be left out of the vocabulary"
            )
        level = dict(level=tokenizer.level, normalisation=tokenizer.normalisation)
        candidates = Vocabulary.from_counts(table.upper_bounds(), unknown_threshold, **level)
        del table

        block = block_size(n_tokens)
        train = block_splits(math.ceil(n_tokens / block), validation_fraction, test_fraction) == 0
        train_counts = _candidate_pass(writer, lists, piece_tokens, candidates, train, block)
        vocabulary = Vocabulary.from_counts(
            dict(zip(candidates.tokens[1:], train_counts[1:].tolist())),
            unknown_threshold,
            max_size=max_vocabulary,
            unlisted=int(train_counts[0]),  # the training split's tokens that no candidate names
            **level,
        )
        _check_vocabulary(vocabulary, unknown_threshold, tokenizer)
        # Pass 3: candidate ids -> vocabulary ids, checksum, rename into place.
        meta = {"file_tokens": file_tokens.astype(np.int64).tolist(), "block": block,
                "vocabulary": vocabulary.to_dict()}  # fmt: skip
        ids = writer.finish(vocabulary.encode(candidates.tokens), meta)
    return _corpus(ids, vocabulary, n_tokens, block, validation_fraction, test_fraction, names)


def _read_pass(pieces, read, workers, writer, lists, table, progress) -> list[int]:
    """Pass 1, over the text: each piece's local ids to the store, its distinct tokens
    to `lists`, their counts into `table`. Returns the number of tokens of each piece."""
    piece_tokens = []
    for piece, (path, count, tokens, counts) in zip(pieces, _in_order(read, pieces, workers)):
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
    found = store.open_store(Path(cache_dir), key)
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
        raise CorpusError(
            f"the corpus has {n_tokens} {tokenizer.unit}(s) after normalisation, fewer than the {min_tokens} "
            "needed for one context and its target; add text or shorten the context (--window-size)"
        )


def _check_vocabulary(vocabulary: Vocabulary, unknown_threshold: int, tokenizer: Tokenizer) -> None:
    if len(vocabulary) < 2:
        raise CorpusError(
            f"every {tokenizer.unit} of the training text appears {unknown_threshold} time(s) or fewer, so "
            "the vocabulary holds only the unknown symbol; lower --unknown-threshold or add text"
        )


def _open_writer(cache_dir: Path | None, key: dict | None) -> store.StoreWriter:
    if cache_dir is not None:
        with contextlib.suppress(OSError):
            return store.StoreWriter(Path(cache_dir), key)
        # An unwritable cache only costs the time of reading next time.
    try:
        return store.StoreWriter(None)
    except OSError as error:
        problem = error.strerror or error
        raise CorpusError(f"cannot create a temporary file for the token store: {problem}") from None


@contextlib.contextmanager
def _store_errors(writer: store.StoreWriter):
    """Turn a failed write of the store (a full disk) into one line; the writer
    removes its partial file as the exception leaves its `with`."""
    try:
        yield
    except OSError as error:
        where = writer.folder or "the temporary folder (TMPDIR)"
        raise CorpusError(
            f"cannot write the token store in {where}: {error.strerror or error}; free some space there"
            + (" or pass --no-cache" if writer.folder else "")
        ) from None


def encode_files(
    paths: Sequence[str | os.PathLike],
    vocabulary: Vocabulary,
    encoding_errors: str = "strict",
    *,
    read_size: int = READ_SIZE,
    piece_size: int = PIECE_SIZE,
    workers: int = 0,
    flag: str = "--text",
) -> Split:
    """Text files as ids of `vocabulary` (read with its tokenizer), one segment per
    file, in a temporary memory-mapped file (for evaluation); `flag` names the
    option the paths came from in error messages."""
    files = find_text_files(paths, flag)
    sizes = [os.stat(f).st_size for f in files]
    pieces = plan_pieces(files, sizes, piece_size)
    workers = _workers_for(sum(sizes), workers)
    lengths = np.zeros(len(files), np.int64)
    writer = _open_writer(None, None)
    with writer, _store_errors(writer):
        function = functools.partial(
            _encode_piece_in_worker if workers > 1 else _encode_piece, encoding_errors=encoding_errors,
            read_size=read_size, **({} if workers > 1 else {"vocabulary": vocabulary}),
        )  # fmt: skip
        for piece, ids in zip(pieces, _in_order(function, pieces, workers, vocabulary=vocabulary)):
            writer.append(ids)
            lengths[piece.file] += len(ids)
        for path, length in zip(files, lengths):
            if length == 0:
                warn(f"{path} holds no {vocabulary.tokenizer.unit}s after normalisation")
        ids = writer.finish()
    return Split.from_lengths(ids, lengths)
