"""The rules that turn text into tokens: pure functions of the text, one per
(level, normalisation); text.tokenizer names them and text.vocabulary counts what they give."""

from __future__ import annotations

import re
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


def ascii_words(text: str) -> list[str]:
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


def unicode_words(text: str) -> list[str]:
    """Version 2 of the word rule (the current one): version 1, with a zero-width
    joiner or non-joiner kept only where a script needs it (see _needed_joiners)."""
    return _words_of(text, _joiners_checked)


def unicode_words_version_1(text: str) -> list[str]:
    """Version 1, kept for the runs that recorded it: every joiner kept inside a word,
    so "walk\u200ded" is one unknown word."""
    return _words_of(text, _UNICODE_TABLE)


def _words_of(text: str, kinds: Callable[[str], str]) -> list[str]:
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
        data = _map_non_ascii(data, kinds)
    data = bytearray(data)
    _drop_loose_marks(np.frombuffer(data, np.uint8))
    return data.decode("utf-8", "surrogatepass").split()


def _map_non_ascii(data: bytes, kinds: Callable[[str], str]) -> bytes:
    """NFKC, lower() and `kinds` (the kind table) applied to each space-delimited stretch of
    `data` (ASCII already mapped) that holds a non-ASCII character."""
    codes = np.frombuffer(data, np.uint8)
    high = np.flatnonzero(codes >= 0x80)
    if high.size * 32 > codes.size:  # mostly another script: all of it at once
        return _map_text(data.decode("utf-8", "surrogatepass"), kinds).encode("utf-8", "surrogatepass")
    breaks = np.concatenate([[-1], np.flatnonzero(codes == _SPACE), [codes.size]])
    after = np.searchsorted(breaks, high)  # the first break after each non-ASCII byte
    starts, ends = breaks[after - 1] + 1, breaks[after]
    first = np.flatnonzero(np.diff(starts, prepend=-1))  # one stretch per word, not per byte
    parts, done = [], 0
    for start, end in zip(starts[first].tolist(), ends[first].tolist()):
        parts += [data[done:start], _map_text(data[start:end].decode("utf-8", "surrogatepass"), kinds).encode(
            "utf-8", "surrogatepass")]  # fmt: skip
        done = end
    parts.append(data[done:])
    return b"".join(parts)


def _map_text(text: str, kinds: Callable[[str], str]) -> str:
    # NFKC first (full-width letters, ligatures, superscripts), then lower case;
    # NFKC again only where lower() left something it would change (rare).
    text = unicodedata.normalize("NFKC", text).lower()
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return kinds(text)


# ---------------------------------------------------------------- joiners
#
# Zero-width joiner (U+200D) and non-joiner (U+200C) are the two format characters
# a script really needs: in Arabic, Persian, Devanagari and the other Indic scripts,
# Sinhala, Myanmar, Khmer ... they choose a letter's shape or a conjunct, so "می‌خواهم"
# spelt with a non-joiner is another spelling than without; between emoji a joiner
# makes one picture of several. Latin, Greek, Cyrillic and Armenian never use them
# there: inside "walked" a joiner is an invisible accident. Version 2 of both unicode
# rules keeps a run of joiners only between two letters or marks of a script at or
# past Hebrew (U+0590) that is not a Latin or Greek extension, or between two symbols
# (emoji), and drops it everywhere else, without a break. Every other format character
# (category Cf) is dropped (the word rule turns a zero-width space into a break).

_JOINER_RUN = re.compile("[\u200c\u200d]+")
_NO_JOINER_RANGES = ((0x1D00, 0x1FFF), (0x2C60, 0x2C7F), (0xA720, 0xA7FF), (0xAB30, 0xAB6F))


def _script_uses_joiners(character: str) -> bool:
    code = ord(character)
    return code >= 0x0590 and unicodedata.category(character)[0] in "LM" and not any(
        low <= code <= high for low, high in _NO_JOINER_RANGES
    )


def _joiner_needed(before: str, after: str) -> bool:
    if not (before and after):
        return False
    if _script_uses_joiners(before) and _script_uses_joiners(after):
        return True
    return unicodedata.category(before) == "So" and unicodedata.category(after) == "So"


def _needed_joiners(text: str) -> str:
    """`text` without the joiners no script needs there (see above); local, so a
    streaming cut before a space or after a line break gives the same result."""
    if "\u200c" not in text and "\u200d" not in text:
        return text

    def kept(match: re.Match) -> str:
        start, end = match.span()
        before = text[start - 1] if start else ""
        return match.group() if _joiner_needed(before, text[end : end + 1]) else ""

    return _JOINER_RUN.sub(kept, text)


def _joiners_checked(text: str) -> str:
    return _needed_joiners(_UNICODE_TABLE(text))


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


def character_text(text: str) -> str:
    """Version 2 of the char rule (the current one): one token per character, as
    written: case, digits, punctuation, spaces and line breaks are kept. CR LF and CR
    become a line break, a tab a space; control characters (Cc) and format characters
    (Cf: zero-width space, word joiner, byte-order marks, direction marks and overrides)
    are dropped, joiners kept only where a script needs them (see above); the text is
    put in Unicode NFC, so an accent typed as a separate mark is the same token as the
    precomposed letter.
    """
    return _nfc(_needed_joiners(_CHARACTER_TABLE(_line_breaks(text))))


def character_text_version_1(text: str) -> str:
    """Version 1, kept for the runs that recorded it: only control characters and
    U+FEFF dropped, every other format character a token of its own."""
    return _nfc(_CHARACTER_TABLE_VERSION_1(_line_breaks(text)))


def _line_breaks(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def split_characters(text: str) -> list[str]:
    return list(character_text(text))


def split_characters_version_1(text: str) -> list[str]:
    return list(character_text_version_1(text))


def _character_kind(character: str) -> str | None:
    if character in _JOINERS:
        return character  # _needed_joiners decides, from its neighbours
    category = unicodedata.category(character)
    return None if category == "Cf" else _character_kind_version_1(character)


def _character_kind_version_1(character: str) -> str | None:
    if character == "\t":
        return " "
    if character == "\n":
        return "\n"
    if character == "\ufeff" or unicodedata.category(character) == "Cc":
        return None
    return character


_CHARACTER_TABLE = _Translation(_character_kind)
_CHARACTER_TABLE_VERSION_1 = _Translation(_character_kind_version_1)


def inside_word(character: str) -> bool:
    """Whether a character belongs to the word being typed (letters, digits, ' and -),
    the one definition predict and the character-level completions use."""
    return character.isalnum() or character in "'-"
