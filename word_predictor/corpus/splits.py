"""A corpus and its splits: index ranges into one shared id array, dealt in blocks.

    | train | test | train  train | validation | train | test | ...
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from word_predictor.config import CorpusFacts
from word_predictor.text.vocabulary import Vocabulary

SPLITS = ("train", "validation", "test")
_GOLDEN = (math.sqrt(5) - 1) / 2
_SAVE_BLOCK = 1 << 20  # ids copied at a time by Split.save

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
    def token_count(self) -> int:
        return int(self.segment_lengths.sum())

    def segments(self) -> Iterator[np.ndarray]:
        for start, end in self.bounds:
            yield self.ids[start:end]

    def save(self, path) -> None:
        """The segments one after another as `ids` and their `segment_lengths`, in the .npz
        np.savez writes (np.load reads it back), copied a block at a time: a split of a
        memory-mapped store is never gathered in memory (docs/benchmarks.md, "Memory")."""
        lengths = self.segment_lengths
        header = {"descr": np.dtype("<i4").str, "fortran_order": False, "shape": (int(lengths.sum()),)}
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            with archive.open("ids.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array_header_1_0(member, header)
                for segment in self.segments():
                    for start in range(0, len(segment), _SAVE_BLOCK):
                        member.write(np.ascontiguousarray(segment[start : start + _SAVE_BLOCK], "<i4").tobytes())
            with archive.open("segment_lengths.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, lengths, allow_pickle=False)

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
    def token_count(self) -> int:
        return sum(split.token_count for split in self.splits.values())

    @property
    def facts(self) -> CorpusFacts:
        """What this corpus found, the record that travels beside a run's settings."""
        counts = {f"{name}_tokens": split.token_count for name, split in self.splits.items()}
        return CorpusFacts(vocabulary_size=len(self.vocabulary), corpus_tokens=self.token_count, **counts)

# ---------------------------------------------------------------- splits


def window_block_size(window_size: int) -> Callable[[int], int]:
    """The split block length that windows of `window_size` tokens use: blocks of about
    1% of the corpus (at most 1,000 tokens), each a few windows long."""
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

