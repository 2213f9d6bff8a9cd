"""Text -> words -> ids, and back: the one path that train, predict and evaluate share.

Normalisation follows the original study code so that figures stay comparable:
lower case, every kind of whitespace becomes a space, only a-z, space, apostrophe
and hyphen survive, runs of spaces collapse, and words that start with '-' go.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Bump when `normalise` changes: a vocabulary records the version it was built
# with, and a run refuses text normalised differently from its training text.
NORMALISATION_VERSION = 1

# Normalised words hold only a-z, apostrophe and hyphen, so angle brackets can
# never collide with a real word.
UNKNOWN_TOKEN = "<unk>"
UNKNOWN_ID = 0

VOCABULARY_FORMAT = "word_predictor.vocabulary/1"

_WHITESPACE = re.compile(r"\s+")
_NOT_KEPT = re.compile(r"[^a-z' -]+")


def normalise(text: str) -> str:
    """Return `text` as lower-case words of a-z, apostrophe and hyphen, one space apart."""
    text = _NOT_KEPT.sub("", _WHITESPACE.sub(" ", text.lower()))
    return " ".join(word for word in text.split(" ") if word and word[0] != "-")


def words(text: str) -> list[str]:
    """Split `text` into normalised words."""
    normalised = normalise(text)
    return normalised.split(" ") if normalised else []


@dataclass(frozen=True)
class Vocabulary:
    """Words and their ids: id 0 is the unknown symbol, then most frequent first.

    Ties in frequency are broken alphabetically, so the same training text always
    gives the same ids.
    """

    tokens: tuple[str, ...]
    counts: tuple[int, ...]
    unknown_threshold: int
    normalisation_version: int = NORMALISATION_VERSION
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not self.tokens or self.tokens[UNKNOWN_ID] != UNKNOWN_TOKEN:
            raise ValueError(f"a vocabulary starts with {UNKNOWN_TOKEN!r}")
        if len(self.tokens) != len(self.counts):
            raise ValueError("a vocabulary needs one count per token")
        object.__setattr__(self, "_index", {t: i for i, t in enumerate(self.tokens)})
        if len(self._index) != len(self.tokens):
            raise ValueError("a vocabulary lists each token once")

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], unknown_threshold: int) -> Vocabulary:
        """Keep words seen more than `unknown_threshold` times; the rest become unknown."""
        kept = sorted(
            ((word, n) for word, n in counts.items() if n > unknown_threshold),
            key=lambda item: (-item[1], item[0]),
        )
        unknown_count = sum(n for n in counts.values() if n <= unknown_threshold)
        return cls(
            tokens=(UNKNOWN_TOKEN, *(word for word, _ in kept)),
            counts=(unknown_count, *(n for _, n in kept)),
            unknown_threshold=unknown_threshold,
        )

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, word: str) -> bool:
        return word in self._index

    def id_of(self, word: str) -> int:
        return self._index.get(word, UNKNOWN_ID)

    def encode(self, words_: Iterable[str]) -> np.ndarray:
        """Words -> int32 ids, unknown words -> UNKNOWN_ID."""
        get = self._index.get
        return np.fromiter((get(w, UNKNOWN_ID) for w in words_), dtype=np.int32)

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[int(i)] for i in ids]

    def lookup_table(self, words_in_order: list[str]) -> np.ndarray:
        """An int32 array mapping positions in `words_in_order` to ids here."""
        get = self._index.get
        return np.fromiter(
            (get(w, UNKNOWN_ID) for w in words_in_order), dtype=np.int32, count=len(words_in_order)
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": VOCABULARY_FORMAT,
                "normalisation_version": self.normalisation_version,
                "unknown_threshold": self.unknown_threshold,
                "unknown_token": UNKNOWN_TOKEN,
                "size": len(self.tokens),
                "tokens": list(self.tokens),
                "counts": list(self.counts),
            },
            indent=0,
        )

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        data = json.loads(text)
        if data.get("format") != VOCABULARY_FORMAT:
            raise ValueError(f"not a word_predictor vocabulary (format {data.get('format')!r})")
        if data["normalisation_version"] != NORMALISATION_VERSION:
            raise ValueError(
                f"vocabulary uses normalisation version {data['normalisation_version']}, "
                f"this word_predictor uses {NORMALISATION_VERSION}"
            )
        return cls(
            tokens=tuple(data["tokens"]),
            counts=tuple(int(n) for n in data["counts"]),
            unknown_threshold=int(data["unknown_threshold"]),
            normalisation_version=int(data["normalisation_version"]),
        )

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
