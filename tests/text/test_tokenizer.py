from multiprocessing.reduction import ForkingPickler
import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import NORMALISED_WORD
from word_predictor.text.tokenizer import ASCII_WORDS, CHARACTERS, TOKENIZERS, UNICODE_WORDS, normalise, tokenizer_for, words
from word_predictor.text.vocabulary import UNKNOWN_ID, UNKNOWN_TOKEN, Vocabulary

# ---------------------------------------------------------------- ascii: the study's rule, unchanged


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Hello, World!", "hello world"),
        ("line one\nline two\r\n\tthree", "line one line two three"),
        ("don't stop-motion", "don't stop-motion"),
        ("a -dash --double - lone", "a lone"),  # words starting with '-' are dropped
        ("numbers 42 and 3.14 vanish", "numbers and vanish"),
        ("  many    spaces   ", "many spaces"),
        ("Café naïve", "caf nave"),  # letters outside a-z are removed, as the study code did
        ("café naïve Hélène don’t well—known", "caf nave hlne dont wellknown"),
        ("", ""),
        ("!!! ...", ""),
    ],
)
def test_normalise_cases(raw, expected):
    assert normalise(raw) == expected
    assert ASCII_WORDS.normalise(raw) == expected


def test_words_splits_normalised_text():
    assert words("Some of THEM, looks like.") == ["some", "of", "them", "looks", "like"]
    assert words("...") == []
    assert ASCII_WORDS.tokens("Some of THEM") == words("Some of THEM")


def _study_reference(text: str) -> list[str]:
    """The original study code's regular expressions, verbatim in spirit."""
    text = re.sub(r"[^a-z' -]+", "", re.sub(r"\s+", " ", text.lower()))
    return [word for word in text.split(" ") if word and word[0] != "-"]


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_ascii_rule_equals_the_study_regular_expressions(text):
    assert ASCII_WORDS.tokens(text) == _study_reference(text)


def test_unknown_token_cannot_be_a_token_of_any_rule():
    assert normalise(UNKNOWN_TOKEN) != UNKNOWN_TOKEN
    assert UNICODE_WORDS.tokens(UNKNOWN_TOKEN) == ["unk"]
    assert UNKNOWN_TOKEN not in CHARACTERS.tokens(UNKNOWN_TOKEN)


# ---------------------------------------------------------------- unicode: real-world words


def test_the_examples_that_the_ascii_rule_mangles():
    assert UNICODE_WORDS.tokens("café naïve Hélène don’t well—known") == [
        "café", "naïve", "hélène", "don't", "well", "known"
    ]  # fmt: skip


@pytest.mark.parametrize("apostrophe", ["'", "\u2019", "\u2018", "\u02bc", "\u2032"])
def test_typographic_apostrophes_inside_words_are_one_apostrophe(apostrophe):
    text = f"Don{apostrophe}t rock{apostrophe}n{apostrophe}roll"
    assert UNICODE_WORDS.tokens(text) == ["don't", "rock'n'roll"]


def test_quotation_marks_and_edge_hyphens_are_stripped():
    text = "‘Quoted’ 'tis the dogs' -x- \"said\""
    assert UNICODE_WORDS.tokens(text) == ["quoted", "tis", "the", "dogs", "x", "said"]


@pytest.mark.parametrize("dash", ["\u2014", "\u2013", "\u2012", "\u2015", "--", "''", "-'", " - "])
def test_dashes_and_doubled_marks_break_words(dash):
    assert UNICODE_WORDS.tokens(f"well{dash}known") == ["well", "known"]


def test_hyphens_between_letters_stay():
    assert UNICODE_WORDS.tokens("A well-known e\u2010mail") == ["a", "well-known", "e-mail"]


def test_byte_order_mark_and_crlf_are_harmless():
    assert UNICODE_WORDS.tokens("\ufeffHello\r\nWorld\rend\r\n") == ["hello", "world", "end"]
    assert CHARACTERS.normalise("\ufeffHi\r\nyou\rthere\r\n") == "Hi\nyou\nthere\n"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Küche STRASSE Straße", ["küche", "strasse", "straße"]),  # lower(), not casefold()
        ("Привет, мир! Ёлка", ["привет", "мир", "ёлка"]),
        ("ΟΔΟΣ οδός", ["οδος", "οδός"]),  # final sigma
        ("مرحبا بالعالم", ["مرحبا", "بالعالم"]),
        ("नमस्ते दुनिया", ["नमस्ते", "दुनिया"]),  # combining vowel signs and virama stay in the word
        ("東京は、晴れ。", ["東京は", "晴れ"]),  # no spaces: one "word" per phrase
        ("한국어 텍스트", ["한국어", "텍스트"]),
        ("ﬁne ＡＢＣ x²", ["fine", "abc", "x2"]),  # NFKC
        ("cafe\u0301 = café", ["café", "café"]),  # NFKC composes the accent
        ("hy\u00adphen\u200bnext", ["hyphen", "next"]),  # soft hyphen dropped, zero-width space breaks
        ("می\u200cخواهم", ["می\u200cخواهم"]),  # the zero-width non-joiner belongs to Persian words
        ("🙂 emoji ♥ symbols", ["emoji", "symbols"]),
    ],
)
def test_letters_of_every_script_survive(raw, expected):
    assert UNICODE_WORDS.tokens(raw) == expected


def test_digits_are_word_characters():
    assert UNICODE_WORDS.tokens("In the 1990s, mp3 and COVID-19 cost 3.14 or 1,000.") == [
        "in", "the", "1990s", "mp3", "and", "covid-19", "cost", "3", "14", "or", "1", "000"
    ]  # fmt: skip


def _unicode_reference(text: str) -> list[str]:
    """The unicode rule written plainly, one character at a time."""
    from word_predictor.text.rules import _unicode_kind

    mapped = "".join((_unicode_kind(c.lower()) if c < "\x80" else c) for c in text)
    mapped = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", mapped).lower())
    mapped = "".join(_unicode_kind(c) or "" for c in mapped)
    mapped = _needed_joiners_reference(mapped)
    return re.findall(r"[^ '-]+(?:['-][^ '-]+)*", mapped)


def _needed_joiners_reference(text: str) -> str:
    """Version 2's joiner rule written plainly: a run of joiners stays only where
    rules._joiner_needed says its two neighbours need it."""
    from word_predictor.text.rules import _joiner_needed

    kept, position = [], 0
    while position < len(text):
        end = position
        while end < len(text) and text[end] in "\u200c\u200d":
            end += 1
        if end == position:
            kept.append(text[position])
            position += 1
            continue
        before = text[position - 1] if position else ""
        if _joiner_needed(before, text[end : end + 1]):
            kept.append(text[position:end])
        position = end
    return "".join(kept)


_TEXT = st.text(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(list("aé'’- \n\r\t—-Σς\u0301\u00ad\ufeff\u200b\u200c\u200dİﬁمی")),
    ),
    max_size=60,
)


@settings(max_examples=400)
@given(_TEXT)
def test_unicode_rule_equals_its_plain_definition(text):
    assert UNICODE_WORDS.tokens(text) == _unicode_reference(text)


def test_long_texts_take_the_same_path_as_short_ones():
    # Long texts are translated with NumPy, short ones with str.translate.
    line = "Привет, мир\x07 — ‘don’t’ ΟΔΟΣ cafe\u0301 東京 hy\u00adphen\t.\n"
    for tokenizer in TOKENIZERS.values():
        assert tokenizer.tokens(line * 300) == tokenizer.tokens(line) * 300


@settings(max_examples=200)
@given(_TEXT)
def test_words_read_again_are_the_same_words(text):
    for tokenizer in (UNICODE_WORDS, ASCII_WORDS):
        tokens = tokenizer.tokens(text)
        assert tokenizer.tokens(tokenizer.join(tokens)) == tokens
        assert tokenizer.normalise(text) == " ".join(tokens)


@settings(max_examples=400)
@given(_TEXT, _TEXT, st.sampled_from(list(TOKENIZERS.values())))
def test_safe_cut_never_changes_the_tokens(first, rest, tokenizer):
    cut = tokenizer.safe_cut(first)
    assert 0 <= cut <= len(first)
    in_two = tokenizer.tokens(first[:cut]) + tokenizer.tokens(first[cut:] + rest)
    assert in_two == tokenizer.tokens(first + rest)


def test_safe_cut_keeps_crlf_and_accents_together():
    assert CHARACTERS.safe_cut("one\r\ntwo\r") == len("one\r\n")
    assert CHARACTERS.safe_cut("a cafe") == len("a")  # "e" may get an accent in the next block
    assert UNICODE_WORDS.safe_cut("nospace") == 0


# ---------------------------------------------------------------- characters


def test_char_level_keeps_case_digits_punctuation_and_line_breaks():
    text = "Hello, World! 42 times.\nNext line: «quoted» — ok?\n"
    assert CHARACTERS.tokens(text) == list(text)
    assert CHARACTERS.join(CHARACTERS.tokens(text)) == text


def test_char_level_drops_control_characters_and_tabs_become_spaces():
    assert CHARACTERS.normalise("a\x00b\x07c\x1bd\x7fe\x85f\tg\u200dh") == "abcdef gh"  # version 2: a joiner between Latin letters goes


def test_char_level_is_nfc():
    assert CHARACTERS.tokens("cafe\u0301") == ["c", "a", "f", "é"]


@settings(max_examples=300)
@given(_TEXT)
def test_char_decode_of_encode_is_the_normalised_text(text):
    tokens = CHARACTERS.tokens(text)
    counts: dict[str, int] = {}
    for token in tokens:
        counts[token] = counts.get(token, 0) + 1
    vocabulary = Vocabulary.from_counts(counts, unknown_threshold=0, level="char", normalisation="unicode")
    ids = vocabulary.encode(tokens)
    assert UNKNOWN_ID not in ids.tolist()
    assert vocabulary.tokenizer.join(vocabulary.decode(ids)) == CHARACTERS.normalise(text)
    assert CHARACTERS.normalise(CHARACTERS.normalise(text)) == CHARACTERS.normalise(text)


# ---------------------------------------------------------------- choosing a tokenizer


def test_tokenizers_are_picked_by_level_and_normalisation():
    assert tokenizer_for("word", "unicode") is UNICODE_WORDS
    assert tokenizer_for("word", "ascii") is ASCII_WORDS
    assert tokenizer_for("char", "unicode") is CHARACTERS
    assert (CHARACTERS.level, CHARACTERS.unit, CHARACTERS.separator) == ("char", "character", "")
    with pytest.raises(ValueError, match="known: word/unicode, word/ascii, char/unicode"):
        tokenizer_for("char", "ascii")
    with pytest.raises(ValueError, match="no tokenizer for level 'sentence'"):
        tokenizer_for("sentence", "unicode")


def test_a_tokenizer_crosses_to_worker_processes_by_name():
    for tokenizer in TOKENIZERS.values():
        assert ForkingPickler.loads(ForkingPickler.dumps(tokenizer)) is tokenizer  # as worker processes get it


# Text with plenty of what normalisation must handle: capitals, accents, other
# scripts, digits, punctuation, every kind of whitespace, leading hyphens.
_MESSY = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("abcXYZ'- -\t\n\r\x0b\x0c\u00a0\u2028\u3000éÉßİK中ж٣.,!?\"")),
        st.characters(codec="utf-8"),
    ),
    max_size=80,
)


@settings(max_examples=300)
@given(_MESSY)
def test_normalise_is_idempotent_and_keeps_only_allowed_characters(text):
    once = normalise(text)
    assert normalise(once) == once
    assert re.fullmatch(r"[a-z' -]*", once)
    assert "  " not in once and once == once.strip()
    assert words(text) == (once.split(" ") if once else [])
    assert all(word and not word.startswith("-") for word in words(text))


@settings(max_examples=200)
@given(st.lists(NORMALISED_WORD, max_size=20), st.sampled_from([" ", "\n", "\t", "  \r\n "]))
def test_normalised_words_survive_normalisation_unchanged(word_list, separator):
    assert words(separator.join(word_list)) == word_list

