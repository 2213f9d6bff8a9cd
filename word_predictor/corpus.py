"""Folders of .txt files -> one stream of word ids, split into train, validation and test.

The stream is read file by file in blocks, so memory stays at one int32 per word
plus one entry per distinct word, whatever the size of the corpus:

    files (sorted) --read 1 MiB blocks--> words --first-seen index--> raw ids (int32)
    raw ids --blocks--> train | validation | test --train counts--> Vocabulary
    raw ids --lookup table--> vocabulary ids per split
"""

from __future__ import annotations

import codecs
import hashlib
import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from word_predictor.errors import UserError, warn
from word_predictor.text import NORMALISATION_VERSION, Vocabulary, words

ENCODING_ERRORS = ("strict", "replace", "skip")
SPLITS = ("train", "validation", "test")

_BLOCK_BYTES = 1 << 20
# A "word" with no whitespace for this long is cut, so one giant line can't hold memory.
_MAX_CARRY_CHARS = 1 << 20
_GOLDEN = (math.sqrt(5) - 1) / 2

# 'replace' turns each invalid byte sequence into a word break; 'skip' drops it.
codecs.register_error("word_predictor_space", lambda error: (" ", error.end))
_CACHE_FORMAT = 1
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


def find_text_files(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """Every *.txt below each path (a file is taken as given), sorted, each once."""
    found: dict[str, Path] = {}
    for root in map(Path, paths):
        if root.is_file():
            found.setdefault(os.path.realpath(root), root)
        elif root.is_dir():
            for path in _walk_txt(root):
                found.setdefault(os.path.realpath(path), path)
        else:
            raise CorpusError(f"corpus path {root} does not exist; pass --corpus FOLDER_OR_FILE")
    if not found:
        shown = ", ".join(str(p) for p in paths)
        raise CorpusError(f"no .txt files found in {shown}; add some or pass --corpus FOLDER_OR_FILE")
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


def read_words(path: Path, encoding_errors: str = "strict") -> Iterator[list[str]]:
    """Normalised words of one UTF-8 file, a block at a time.

    Raises CorpusError for invalid UTF-8 (under 'strict', naming the byte offset),
    a binary file or an unreadable one.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors=_DECODE_ERRORS[encoding_errors])
    offset = 0
    carry = ""
    try:
        with open(path, "rb") as stream:
            while True:
                block = stream.read(_BLOCK_BYTES)
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
                    yield words(text)
                    return
                cut = _last_space(text)
                if cut < 0 and len(text) < _MAX_CARRY_CHARS:
                    carry = text
                    continue
                cut = cut if cut >= 0 else len(text)
                carry = text[cut:]
                yield words(text[:cut])
    except OSError as error:
        raise CorpusError(f"cannot read {path}: {error.strerror or error}") from None


def _last_space(text: str) -> int:
    for i in range(len(text) - 1, -1, -1):
        if text[i].isspace():
            return i
    return -1


@dataclass
class TokenStream:
    """A corpus as ids into `words` (its distinct words in the order first seen)."""

    ids: np.ndarray
    words: list[str]
    file_lengths: list[int]


def read_tokens(files: Sequence[Path], encoding_errors: str = "strict") -> TokenStream:
    index: dict[str, int] = {}
    pieces: list[np.ndarray] = []
    file_lengths = []
    for path in files:
        length = 0
        for chunk in read_words(path, encoding_errors):
            # setdefault gives a new word the next free id.
            pieces.append(
                np.fromiter((index.setdefault(w, len(index)) for w in chunk), np.int32, len(chunk))
            )
            length += len(chunk)
        file_lengths.append(length)
        if length == 0:
            warn(f"{path} holds no words after normalisation")
    ids = np.concatenate(pieces) if pieces else np.zeros(0, np.int32)
    return TokenStream(ids=ids, words=list(index), file_lengths=file_lengths)


def read_tokens_cached(files: Sequence[Path], encoding_errors: str, cache_dir: Path | None) -> TokenStream:
    """`read_tokens`, kept as compact arrays in `cache_dir` for the next run on the same files.

    The cache key covers each file's path, size and modification time, the
    normalisation version and the encoding-error policy, so an edited file is read
    again. A missing, damaged or unwritable cache only costs the time of reading.
    """
    if cache_dir is None:
        return read_tokens(files, encoding_errors)
    stats = [(str(Path(f).absolute()), os.stat(f)) for f in files]
    described = [(name, stat.st_size, stat.st_mtime_ns) for name, stat in stats]
    key = json.dumps([_CACHE_FORMAT, NORMALISATION_VERSION, encoding_errors, described])
    path = Path(cache_dir) / f"tokens-{hashlib.sha256(key.encode()).hexdigest()[:32]}.npz"
    try:
        with np.load(path, allow_pickle=False) as cached:
            words_ = bytes(cached["words"]).decode("utf-8").split("\n") if cached["words"].size else []
            return TokenStream(
                ids=cached["ids"].astype(np.int32), words=words_, file_lengths=cached["file_lengths"].tolist()
            )
    except (OSError, ValueError, KeyError):
        pass
    stream = read_tokens(files, encoding_errors)
    # Normalised words never hold a newline, so one joined string stores them all.
    dtype = np.uint16 if len(stream.words) <= 1 << 16 else np.int32
    try:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.stem}.partial.npz")
        np.savez(
            temporary,
            ids=stream.ids.astype(dtype),
            words=np.frombuffer("\n".join(stream.words).encode("utf-8"), dtype=np.uint8),
            file_lengths=np.array(stream.file_lengths, dtype=np.int64),
        )
        os.replace(temporary, path)
    except OSError:
        pass
    return stream


def split_segments(
    n_tokens: int, block: int, validation_fraction: float, test_fraction: float
) -> dict[str, list[tuple[int, int]]]:
    """Cut [0, n_tokens) into blocks and deal them to the splits, deterministically.

    Blocks are spread evenly through the text (a golden-ratio sequence), so each
    split samples every part of the corpus, and neighbouring blocks of one split
    merge into one segment:

        | train | test | train  train | validation | train | test | ...
    """
    segments: dict[str, list[tuple[int, int]]] = {name: [] for name in SPLITS}
    for number, start in enumerate(range(0, n_tokens, block)):
        u = ((number + 0.5) * _GOLDEN) % 1.0
        name = "test" if u < test_fraction else "validation" if u < test_fraction + validation_fraction else "train"
        end = min(start + block, n_tokens)
        if segments[name] and segments[name][-1][1] == start:
            segments[name][-1] = (segments[name][-1][0], end)
        else:
            segments[name].append((start, end))
    return segments


def _bounds(segments: list[tuple[int, int]]) -> np.ndarray:
    return np.array(segments, dtype=np.int64).reshape(-1, 2)


def build_corpus(
    paths: Sequence[str | os.PathLike],
    *,
    unknown_threshold: int,
    validation_fraction: float,
    test_fraction: float,
    encoding_errors: str = "strict",
    cache_dir: Path | None = None,
    progress: Callable[[str], None] = lambda message: None,
    min_tokens: int = 2,
    block_size: Callable[[int], int] = lambda tokens: max(12, min(1000, tokens // 100)),
) -> Corpus:
    """Read, split and encode a corpus; the vocabulary comes from the train split alone.

    With `cache_dir`, the word ids are kept there for the next run on the same files.
    """
    files = find_text_files(paths)
    progress(f"reading {len(files)} file(s)")
    stream = read_tokens_cached(files, encoding_errors, cache_dir)
    if stream.ids.size < min_tokens:
        raise CorpusError(
            f"the corpus has {stream.ids.size} word(s) after normalisation; it needs at least "
            f"{min_tokens}. Add text (or lower --window-size)"
        )
    segments = split_segments(stream.ids.size, block_size(stream.ids.size), validation_fraction, test_fraction)
    counts = np.zeros(len(stream.words), np.int64)
    for start, end in segments["train"]:
        counts += np.bincount(stream.ids[start:end], minlength=len(stream.words))
    vocabulary = Vocabulary.from_counts(
        {word: int(n) for word, n in zip(stream.words, counts) if n}, unknown_threshold
    )
    if len(vocabulary) < 2:
        raise CorpusError(
            f"every word of the training text appears {unknown_threshold} time(s) or fewer, so the "
            "vocabulary holds only the unknown symbol; lower --unknown-threshold or add text"
        )
    table = vocabulary.lookup_table(stream.words)
    ids = table[stream.ids]  # one array of vocabulary ids that every split indexes into
    splits = {name: Split(ids, _bounds(segs)) for name, segs in segments.items()}
    return Corpus(vocabulary=vocabulary, splits=splits, files=[str(f) for f in files])


def encode_files(
    paths: Sequence[str | os.PathLike], vocabulary: Vocabulary, encoding_errors: str = "strict"
) -> Split:
    """Text files as vocabulary ids, one segment per file (for evaluation)."""
    stream = read_tokens(find_text_files(paths), encoding_errors)
    table = vocabulary.lookup_table(stream.words)
    ids = table[stream.ids] if stream.ids.size else np.zeros(0, np.int32)
    return Split.from_lengths(ids, stream.file_lengths)
