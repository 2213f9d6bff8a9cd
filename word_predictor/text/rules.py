"""The rules that turn text into tokens: pure functions of the text, one per
(level, normalisation); text.tokenizer names them and text.vocabulary counts what they give."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import numpy as np

# ---------------------------------------------------------------- the three rules
#
# Each rule is a pure function of the text. Streaming readers tokenise a corpus a
# block at a time, so every rule is also *local*: text can be cut just after a line
# break, or just before a space, and tokenised piece by piece with the same result
# (see Tokenizer.safe_cut). Both word rules treat every whitespace character as a
# break; the char rule joins CR LF and composes accents only within a line, and a
# space never composes with anything.


def inside_word(token: str) -> bool:
    """Whether a character token (or a word) can be part of a word: what a word being typed holds."""
    return token.isalnum() or token in "'-"


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

