"""Tokenizers: one level and one normalisation, text -> tokens and back, picked
from a mapping by `tokenizer_for(level, normalisation)`:

    level  normalisation  a token is                      for
    word   unicode        a word of any script, lower case  real-world text (the default)
    word   ascii          a word of a-z, ' and -           the original study's figures
    char   unicode        one character, as written        character-level models
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from word_predictor.text.rules import (
    ascii_words,
    character_text,
    character_text_version_1,
    split_characters,
    split_characters_version_1,
    unicode_words,
    unicode_words_version_1,
)

# ---------------------------------------------------------------- tokenizers


@dataclass(frozen=True)
class Tokenizer:
    """One level and one normalisation: text -> tokens, and tokens -> text.

    `version` changes whenever the rule does. Every version stays registered
    (VERSIONS), so a run reads text with the rule it recorded, never silently
    with a newer one; a new run gets the current version (TOKENIZERS).
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
        return tokenizer_for, (self.level, self.normalisation, self.version)

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


# Real-world text in any script (the default): see unicode_words. Version 2 drops
# zero-width joiners no script needs (version 1 kept them inside words).
UNICODE_WORDS = Tokenizer(
    level="word", normalisation="unicode", version=2, unit="word", separator=" ", _tokens=unicode_words
)
# The original study's rule, for its published figures: see ascii_words.
ASCII_WORDS = Tokenizer(
    level="word", normalisation="ascii", version=1, unit="word", separator=" ", _tokens=ascii_words
)
# One token per character, case kept: see character_text. The char level has
# this one normalisation, recorded as "unicode" like the word rule for real text.
# Version 2 drops format characters (version 1 kept all but U+FEFF as tokens).
CHARACTERS = Tokenizer(
    level="char",
    normalisation="unicode",
    version=2,
    unit="character",
    separator="",
    _tokens=split_characters,
    _normalise=character_text,
)

# Earlier versions, for the runs that recorded them.
_SUPERSEDED = (
    Tokenizer(level="word", normalisation="unicode", version=1, unit="word", separator=" ",
              _tokens=unicode_words_version_1),
    Tokenizer(level="char", normalisation="unicode", version=1, unit="character", separator="",
              _tokens=split_characters_version_1, _normalise=character_text_version_1),
)  # fmt: skip

# (level, normalisation) -> the current version, which new runs get.
TOKENIZERS: Mapping[tuple[str, str], Tokenizer] = {
    (t.level, t.normalisation): t for t in (UNICODE_WORDS, ASCII_WORDS, CHARACTERS)
}
# (level, normalisation, version) -> that version: every one a run may have recorded.
VERSIONS: Mapping[tuple[str, str, int], Tokenizer] = {
    (t.level, t.normalisation, t.version): t for t in (*TOKENIZERS.values(), *_SUPERSEDED)
}


def tokenizer_for(level: str, normalisation: str, version: int | None = None) -> Tokenizer:
    """The tokenizer of `level` and `normalisation`: the current version, or `version`."""
    try:
        current = TOKENIZERS[level, normalisation]
    except KeyError:
        known = ", ".join(f"{lv}/{nm}" for lv, nm in TOKENIZERS)
        raise ValueError(f"no tokenizer for level {level!r} with normalisation {normalisation!r}; "
                         f"known: {known}") from None  # fmt: skip
    if version is None or version == current.version:
        return current
    try:
        return VERSIONS[level, normalisation, version]
    except KeyError:
        known = ", ".join(str(v) for lv, nm, v in sorted(VERSIONS) if (lv, nm) == (level, normalisation))
        raise ValueError(f"normalisation version {version} of {level}/{normalisation} is not one this "
                         f"word_predictor knows ({known})") from None  # fmt: skip


# The rule of `normalise` and `words`, which predict and the monitoring samples call
# until they ask the run's vocabulary for its tokenizer.
def normalise(text: str) -> str:
    """`text` under the original study's rule (ASCII_WORDS): words of a-z, ' and -, one space apart."""
    return ASCII_WORDS.normalise(text)


def words(text: str) -> list[str]:
    """`text` split into words under the original study's rule (ASCII_WORDS)."""
    return ASCII_WORDS.tokens(text)


# ---------------------------------------------------------------- vocabulary
