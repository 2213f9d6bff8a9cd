"""Text -> tokens -> ids, and back: the one path that train, predict and evaluate share.

A `Tokenizer` turns text into tokens at one level (words or characters) under one
normalisation; `tokenizer_for(level, normalisation)` picks it from a mapping:

    level  normalisation  a token is                      for
    word   unicode        a word of any script, lower case  real-world text (the default)
    word   ascii          a word of a-z, ' and -           the original study's figures
    char   unicode        one character, as written        character-level models

A `Vocabulary` records the tokenizer it was built with (level, normalisation and the
rule's version), so a run reads new text exactly as it read its training text.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# A multi-character symbol: it can never be a word of either word rule (both drop
# '<' and '>') nor a character token, so it never collides with real text.
UNKNOWN_TOKEN = "<unk>"
UNKNOWN_ID = 0

VOCABULARY_FORMAT = "word_predictor.vocabulary/2"
_VOCABULARY_FORMAT_1 = "word_predictor.vocabulary/1"  # word level, ascii, version 1


# ---------------------------------------------------------------- the three rules
#
# Each rule is a pure function of the text. Streaming readers tokenise a corpus a
# block at a time, so every rule is also *local*: text can be cut just after a line
# break, or just before a space, and tokenised piece by piece with the same result
# (see Tokenizer.safe_cut). Both word rules treat every whitespace character as a
# break; the char rule joins CR LF and composes accents only within a line, and a
# space never composes with anything.


def _ascii_words(text: str) -> list[str]:
    """The original study's rule, kept so its figures stay reproducible:
    lower case, every whitespace character becomes a space, only a-z, space, apostrophe
    and hyphen survive (café -> caf, don’t -> dont), words that start with '-' go.
    """
    found = _STUDY_TABLE(text.lower()).split()
    return [word for word in found if word[0] != "-"] if "-" in text else found


# The unicode word rule sorts every character into one of four kinds.
_APOSTROPHES = "'\u2019\u2018\u02bc\u2032"  # ' ’ ‘ ʼ ′  -> '
_HYPHENS = "-\u2010"  # - and ‐ (NFKC turns the non-breaking hyphen into ‐)  -> -
_JOINERS = "\u200c\u200d"  # zero-width non-joiner and joiner: part of words in many scripts
_WORD_BREAK_FORMATS = "\u200b"  # zero-width space separates words (Thai, Khmer)
_WORD_CATEGORIES = frozenset(("Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd"))


def _unicode_kind(character: str) -> str | None:
    """What a character becomes: itself (a word character), "'" or "-" (joins two
    word characters), None (dropped: invisible formatting such as a soft hyphen, a
    byte-order mark or a direction mark) or " " (a break: spaces, punctuation,
    dashes, symbols, control characters)."""
    if character in _APOSTROPHES:
        return "'"
    if character in _HYPHENS:
        return "-"
    if character in _JOINERS:
        return character
    category = unicodedata.category(character)
    if category in _WORD_CATEGORIES:
        return character
    if category == "Cf" and character not in _WORD_BREAK_FORMATS:
        return None
    return " "


class _Translation(dict):
    """A rule from one character to one character or none (deleted), applied to whole
    texts: str.translate for short ones, a NumPy lookup over code points for long ones
    (str.translate looks up a dict per character once the text is not ASCII)."""

    _UNSET, _DELETE = np.uint32(0xFFFFFFFF), np.uint32(0xFFFFFFFE)

    def __init__(self, rule: Callable[[str], str | None]):
        super().__init__()
        self.rule = rule
        self._codes: np.ndarray | None = None  # code point -> code point, _UNSET or _DELETE

    def __missing__(self, code: int) -> str | None:
        value = self[code] = self.rule(chr(code))
        return value

    def __call__(self, text: str) -> str:
        if len(text) < 4096 or text.isascii():  # CPython's fast path for ASCII
            return text.translate(self)
        if self._codes is None:
            self._codes = np.full(0x110000, self._UNSET, np.uint32)
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
        mapped = self._codes[codes]
        unset = mapped == self._UNSET
        if unset.any():
            for code in np.unique(codes[unset]).tolist():
                value = self[code]
                self._codes[code] = self._DELETE if value is None else ord(value)
            mapped = self._codes[codes]
        deleted = mapped == self._DELETE
        if deleted.any():
            mapped = mapped[~deleted]
        return mapped.tobytes().decode("utf-32-le", "surrogatepass")


_UNICODE_TABLE = _Translation(_unicode_kind)
# The study's regular expressions as one translation (after lower()): every
# whitespace character -> space, a-z ' - kept, the rest dropped.
_STUDY_KEPT = frozenset("abcdefghijklmnopqrstuvwxyz'- ")
_STUDY_TABLE = _Translation(lambda c: " " if c.isspace() else c if c in _STUDY_KEPT else None)
# ASCII is mapped first, byte by byte (lower case, every other ASCII character a
# break), so that text that is mostly ASCII skips NFKC and lower() except around
# its few other characters. (Mapped after lower(), an ASCII full stop or colon
# would count for the final-sigma rule: "ΟΔΟΣ.Α" would give σ instead of ς.)
_ASCII_BYTES = bytes(
    ord(_UNICODE_TABLE[ord(chr(b).lower())]) if b < 0x80 else b for b in range(256)
)
_SPACE, _APOSTROPHE, _HYPHEN = b" '-"


def _unicode_words(text: str) -> list[str]:
    """Words of real-world text, in any script.

    Unicode NFKC (full-width and compatibility forms become plain letters and digits),
    then lower case with str.lower: unlike casefold it keeps spellings a keyboard would
    suggest (ß, final ς). A word is a run of letters, combining marks and digits, where
    single apostrophes (' ’ ‘ ʼ ′ all become ') and hyphens may join two such characters:
    don't, well-known and rock'n'roll stay whole; quotation marks and hyphens at a word's
    edge go. Every other character is a word break: spaces, line breaks, dashes (— – ‒ ―),
    doubled marks (--, ''), punctuation and symbols. Invisible formatting characters
    (soft hyphen, byte-order mark, direction marks) are dropped without a break.

    Digits are word characters: years, 1990s, mp3 and covid-19 stay words, the unknown
    threshold already turns rare numbers into the unknown symbol, and a number token
    would be a suggestion nobody can type. Scripts written without spaces (Chinese,
    Japanese) give one "word" per phrase: use the char level for them.
    """
    data = text.encode("utf-8", "surrogatepass").translate(_ASCII_BYTES)
    if not text.isascii():
        data = _map_non_ascii(data)
    data = bytearray(data)
    _drop_loose_marks(np.frombuffer(data, np.uint8))
    return data.decode("utf-8", "surrogatepass").split()


def _map_non_ascii(data: bytes) -> bytes:
    """NFKC, lower() and the kind table applied to each space-delimited stretch of
    `data` (ASCII already mapped) that holds a non-ASCII character."""
    codes = np.frombuffer(data, np.uint8)
    high = np.flatnonzero(codes >= 0x80)
    if high.size * 32 > codes.size:  # mostly another script: all of it at once
        return _map_text(data.decode("utf-8", "surrogatepass")).encode("utf-8", "surrogatepass")
    breaks = np.concatenate([[-1], np.flatnonzero(codes == _SPACE), [codes.size]])
    after = np.searchsorted(breaks, high)  # the first break after each non-ASCII byte
    starts, ends = breaks[after - 1] + 1, breaks[after]
    first = np.flatnonzero(np.diff(starts, prepend=-1))  # one stretch per word, not per byte
    parts, done = [], 0
    for start, end in zip(starts[first].tolist(), ends[first].tolist()):
        parts += [data[done:start], _map_text(data[start:end].decode("utf-8", "surrogatepass")).encode(
            "utf-8", "surrogatepass")]  # fmt: skip
        done = end
    parts.append(data[done:])
    return b"".join(parts)


def _map_text(text: str) -> str:
    # NFKC first (full-width letters, ligatures, superscripts), then lower case;
    # NFKC again only where lower() left something it would change (rare).
    text = unicodedata.normalize("NFKC", text).lower()
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return _UNICODE_TABLE(text)


def _drop_loose_marks(codes: np.ndarray) -> None:
    """Turn every apostrophe or hyphen that is not between two word characters into a
    space, in place: only word characters, marks and spaces are left by now."""
    marks = (codes == _APOSTROPHE) | (codes == _HYPHEN)
    if not marks.any():
        return
    word = (codes != _SPACE) & ~marks
    joining = np.zeros_like(marks)
    joining[1:-1] = word[:-2] & word[2:]
    codes[marks & ~joining] = _SPACE


def _character_text(text: str) -> str:
    """One token per character, as written: case, digits, punctuation,
    spaces and line breaks are kept. CR LF and CR become a line break, a tab a space;
    control characters and byte-order marks (U+FEFF) are dropped; the text is put in
    Unicode NFC, so an accent typed as a separate mark is the same token as the
    precomposed letter.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CHARACTER_TABLE(text)
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _characters(text: str) -> list[str]:
    return list(_character_text(text))


def _character_kind(character: str) -> str | None:
    if character == "\t":
        return " "
    if character == "\n":
        return "\n"
    if character == "\ufeff" or unicodedata.category(character) == "Cc":
        return None
    return character


_CHARACTER_TABLE = _Translation(_character_kind)


# ---------------------------------------------------------------- tokenizers


@dataclass(frozen=True)
class Tokenizer:
    """One level and one normalisation: text -> tokens, and tokens -> text.

    `version` changes whenever the rule does, so a vocabulary built under an older
    rule is refused instead of silently reading text differently.
    """

    level: str  # "word" | "char"
    normalisation: str
    version: int
    unit: str  # what one token is called in messages: "word" or "character"
    separator: str  # what `join` puts between tokens
    _tokens: Callable[[str], list[str]] = field(repr=False, compare=False)
    _normalise: Callable[[str], str] | None = field(default=None, repr=False, compare=False)

    def __reduce__(self):
        # Pickled by name (for worker processes): the rule functions stay here.
        return tokenizer_for, (self.level, self.normalisation)

    def normalise(self, text: str) -> str:
        """The text as the model sees it (for words: the tokens one space apart)."""
        if self._normalise is not None:
            return self._normalise(text)
        return self.separator.join(self._tokens(text))

    def tokens(self, text: str) -> list[str]:
        return self._tokens(text)

    def join(self, tokens: Iterable[str]) -> str:
        return self.separator.join(tokens)

    @staticmethod
    def safe_cut(text: str) -> int:
        """How much of `text` a streaming reader may tokenise now; it carries the rest.

        tokens(text[:cut]) + tokens(text[cut:] + more) == tokens(text + more) for any
        `more`: the cut falls just after the last line break, or else just before
        the last space, so it never splits a word, a CR LF pair or a character and
        its combining accents. 0 when the text holds neither.
        """
        line_break = text.rfind("\n")
        if line_break >= 0:
            return line_break + 1
        return max(text.rfind(" "), 0)


# Real-world text in any script (the default): see _unicode_words.
UNICODE_WORDS = Tokenizer(
    level="word", normalisation="unicode", version=1, unit="word", separator=" ", _tokens=_unicode_words
)
# The original study's rule, for its published figures: see _ascii_words.
ASCII_WORDS = Tokenizer(
    level="word", normalisation="ascii", version=1, unit="word", separator=" ", _tokens=_ascii_words
)
# One token per character, case kept: see _character_text. The char level has
# this one normalisation, recorded as "unicode" like the word rule for real text.
CHARACTERS = Tokenizer(
    level="char",
    normalisation="unicode",
    version=1,
    unit="character",
    separator="",
    _tokens=_characters,
    _normalise=_character_text,
)

TOKENIZERS: Mapping[tuple[str, str], Tokenizer] = {
    (t.level, t.normalisation): t for t in (UNICODE_WORDS, ASCII_WORDS, CHARACTERS)
}


def tokenizer_for(level: str, normalisation: str) -> Tokenizer:
    try:
        return TOKENIZERS[level, normalisation]
    except KeyError:
        known = ", ".join(f"{lv}/{nm}" for lv, nm in TOKENIZERS)
        raise ValueError(f"no tokenizer for level {level!r} with normalisation {normalisation!r}; "
                         f"known: {known}") from None  # fmt: skip


# The rule of `normalise` and `words`, which predict and the monitoring samples call
# until they ask the run's vocabulary for its tokenizer.
def normalise(text: str) -> str:
    """`text` under the original study's rule (ASCII_WORDS): words of a-z, ' and -, one space apart."""
    return ASCII_WORDS.normalise(text)


def words(text: str) -> list[str]:
    """`text` split into words under the original study's rule (ASCII_WORDS)."""
    return ASCII_WORDS.tokens(text)


# ---------------------------------------------------------------- vocabulary


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
        tokenizer = tokenizer_for(self.level, self.normalisation)
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
            max_size=max_size,
        )

    @property
    def tokenizer(self) -> Tokenizer:
        return tokenizer_for(self.level, self.normalisation)

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

    def lookup_table(self, tokens_in_order: list[str]) -> np.ndarray:
        """An int32 array mapping positions in `tokens_in_order` to ids here."""
        return self.encode(list(tokens_in_order))

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
        """A vocabulary from parsed JSON, checked as from_json checks it."""
        if not isinstance(data, dict):
            raise ValueError(f"a vocabulary is a JSON object, not {type(data).__name__}")
        found = data.get("format")
        if found == _VOCABULARY_FORMAT_1:
            data = {**data, "level": "word", "normalisation": "ascii", "max_size": 0}
        elif found != VOCABULARY_FORMAT:
            raise ValueError(f"not a word_predictor vocabulary (format {found!r})")
        missing = [key for key in _VOCABULARY_KEYS if key not in data]
        if missing:
            raise ValueError(f"the vocabulary lacks {', '.join(missing)}")
        for key in ("level", "normalisation"):
            _expect(isinstance(data[key], str), f"{key} is not a string")
        for key in ("normalisation_version", "unknown_threshold", "max_size", "size"):
            _expect(_is_count(data[key]), f"{key} is not a whole number >= 0")
        tokens, counts = data["tokens"], data["counts"]
        _expect(isinstance(tokens, list) and all(isinstance(t, str) for t in tokens),
                "tokens are not strings")
        _expect(isinstance(counts, list) and all(map(_is_count, counts)), "counts are not whole numbers >= 0")
        _expect(data["size"] == len(tokens), f"size says {data['size']} but {len(tokens)} tokens are listed")
        _expect(data.get("unknown_token", UNKNOWN_TOKEN) == UNKNOWN_TOKEN,
                f"the unknown token is not {UNKNOWN_TOKEN}")
        tokenizer = tokenizer_for(data["level"], data["normalisation"])
        if data["normalisation_version"] != tokenizer.version:
            raise ValueError(
                f"vocabulary uses normalisation version {data['normalisation_version']} of "
                f"{tokenizer.level}/{tokenizer.normalisation}, this word_predictor uses {tokenizer.version}"
            )
        return cls(
            tokens=tuple(tokens),
            counts=tuple(counts),
            unknown_threshold=data["unknown_threshold"],
            level=data["level"],
            normalisation=data["normalisation"],
            normalisation_version=data["normalisation_version"],
            max_size=data["max_size"],
        )

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


_VOCABULARY_KEYS = ("level", "normalisation", "normalisation_version", "unknown_threshold", "max_size",
                    "size", "tokens", "counts")  # fmt: skip


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _expect(condition: bool, problem: str) -> None:
    if not condition:
        raise ValueError(f"not a usable vocabulary: {problem}")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
