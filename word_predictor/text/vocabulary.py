"""Tokens and their ids, and the vocabulary's JSON format.

A `Vocabulary` records the tokenizer it was built with (level, normalisation and the
rule's version), so a run reads new text exactly as it read its training text."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from word_predictor import folder_files
from word_predictor.text.tokenizer import Tokenizer, tokenizer_for

# A multi-character symbol: it can never be a word of either word rule (both drop
# '<' and '>') nor a character token, so it never collides with real text.
UNKNOWN_TOKEN = "<unk>"
UNKNOWN_ID = 0

VOCABULARY_FORMAT = "word_predictor.vocabulary/2"
# (format 1, word level and ascii, is still read: folder_files.VocabularyFile)


class _Ids(dict):
    """token -> id, where a token never seen is the unknown id (so encoding is one C-level map)."""

    def __missing__(self, token: str) -> int:
        return UNKNOWN_ID


@dataclass(frozen=True)
class Vocabulary:
    """Tokens and their ids: id 0 is the unknown symbol, then most frequent first.

    Ties in frequency are broken by the tokens' code points, so the same training
    text always gives the same ids. `level`, `normalisation` and
    `normalisation_version` name the tokenizer that reads text for it.
    """

    tokens: tuple[str, ...]
    counts: tuple[int, ...]
    unknown_threshold: int
    level: str = "word"
    normalisation: str = "unicode"
    normalisation_version: int | None = None  # None: the tokenizer's current version
    max_size: int = 0  # the most tokens it was allowed (0: no limit)
    _index: _Ids = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        tokenizer = tokenizer_for(self.level, self.normalisation, self.normalisation_version)
        if self.normalisation_version is None:
            object.__setattr__(self, "normalisation_version", tokenizer.version)
        if not self.tokens or self.tokens[UNKNOWN_ID] != UNKNOWN_TOKEN:
            raise ValueError(f"a vocabulary starts with {UNKNOWN_TOKEN!r}")
        if len(self.tokens) != len(self.counts):
            raise ValueError("a vocabulary needs one count per token")
        object.__setattr__(self, "_index", _Ids(zip(self.tokens, range(len(self.tokens)))))
        if len(self._index) != len(self.tokens):
            raise ValueError("a vocabulary lists each token once")
        if self.level == "char" and any(len(t) != 1 for t in self.tokens[1:]):
            raise ValueError("at the char level every token but the unknown symbol is one character")

    @classmethod
    def from_counts(
        cls,
        counts: Mapping[str, int],
        unknown_threshold: int,
        *,
        max_size: int = 0,
        level: str = "word",
        normalisation: str = "unicode",
        normalisation_version: int | None = None,
        unlisted: int = 0,
    ) -> Vocabulary:
        """Keep tokens seen more than `unknown_threshold` times, at most the `max_size`
        most frequent of them (0: all); the rest become the unknown symbol.

        `unlisted` counts occurrences of tokens left out of `counts` (all unknown).
        """
        if unknown_threshold < 0 or max_size < 0 or unlisted < 0:
            raise ValueError("unknown_threshold, max_size and unlisted must be >= 0")
        # By token (a sort of plain strings, Python's fastest), then a stable sort by
        # count, most frequent first.
        tokens = sorted(token for token, n in counts.items() if n > unknown_threshold)
        by_token = np.fromiter(map(counts.__getitem__, tokens), np.int64, len(tokens))
        order = np.argsort(-by_token, kind="stable")[: max_size or None]
        tokens, kept_counts = [tokens[i] for i in order.tolist()], by_token[order].tolist()
        return cls(
            tokens=(UNKNOWN_TOKEN, *tokens),
            counts=(sum(counts.values()) + unlisted - sum(kept_counts), *kept_counts),
            unknown_threshold=unknown_threshold,
            level=level,
            normalisation=normalisation,
            normalisation_version=normalisation_version,
            max_size=max_size,
        )

    @property
    def tokenizer(self) -> Tokenizer:
        """The rule this vocabulary was built with: the version it recorded."""
        return tokenizer_for(self.level, self.normalisation, self.normalisation_version)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._index

    def id_of(self, token: str) -> int:
        return self._index.get(token, UNKNOWN_ID)

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Tokens -> int32 ids, unknown tokens -> UNKNOWN_ID."""
        count = len(tokens) if isinstance(tokens, (list, tuple)) else -1
        return np.fromiter(map(self._index.__getitem__, tokens), dtype=np.int32, count=count)

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[int(i)] for i in ids]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=0)

    def to_dict(self) -> dict:
        return {
            "format": VOCABULARY_FORMAT,
            "level": self.level,
            "normalisation": self.normalisation,
            "normalisation_version": self.normalisation_version,
            "unknown_threshold": self.unknown_threshold,
            "max_size": self.max_size,
            "unknown_token": UNKNOWN_TOKEN,
            "size": len(self.tokens),
            "tokens": list(self.tokens),
            "counts": list(self.counts),
        }

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        """Parse a vocabulary file, refusing any other shape with a ValueError that says why."""
        try:
            data = json.loads(text)
        except ValueError as error:  # JSONDecodeError and bad UTF-16 surrogates alike
            raise ValueError(f"a vocabulary is JSON; this is not ({error})") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data) -> Vocabulary:
        """A vocabulary from parsed JSON, checked against its schema (folder_files.VocabularyFile)."""
        try:
            checked = folder_files.parse(data, folder_files.VocabularyFile)
        except ValueError as error:
            raise ValueError(f"not a usable vocabulary: {error}") from None
        _expect(checked.unknown_token in (None, UNKNOWN_TOKEN), f"the unknown token is not {UNKNOWN_TOKEN}")
        tokenizer_for(checked.level, checked.normalisation, checked.normalisation_version)  # a known one
        return cls(
            tokens=tuple(checked.tokens),
            counts=tuple(checked.counts),
            unknown_threshold=checked.unknown_threshold,
            level=checked.level,
            normalisation=checked.normalisation,
            normalisation_version=checked.normalisation_version,
            max_size=checked.max_size,
        )

    def mismatch(self, settings, size: int) -> str | None:
        """What of a run's settings (a Config) and the vocabulary `size` its model was built
        for this vocabulary does not fit, or None."""
        for name, mine, theirs in (("level", self.level, settings.level),
                                   ("normalisation", self.normalisation, settings.normalisation),
                                   ("size", len(self), size)):  # fmt: skip
            if mine != theirs:
                return f"the vocabulary's {name} is {mine!r} where the settings say {theirs!r}"
        return None

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


def _expect(condition: bool, problem: str) -> None:
    if not condition:
        raise ValueError(f"not a usable vocabulary: {problem}")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
