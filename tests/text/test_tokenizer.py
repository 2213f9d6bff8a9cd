import json
from multiprocessing.reduction import ForkingPickler
import re
import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from word_predictor.text.tokenizer import ASCII_WORDS, CHARACTERS, TOKENIZERS, UNICODE_WORDS, normalise, tokenizer_for, words
from word_predictor.text.vocabulary import UNKNOWN_ID, UNKNOWN_TOKEN, Vocabulary, sha256_of

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
    return re.findall(r"[^ '-]+(?:['-][^ '-]+)*", mapped)


_TEXT = st.text(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(list("aé'’- \n\r\t—-Σς\u0301\u00ad\ufeff\u200b\u200cİﬁ")),
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
    assert CHARACTERS.normalise("a\x00b\x07c\x1bd\x7fe\x85f\tg\u200dh") == "abcdef g\u200dh"


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


# ---------------------------------------------------------------- vocabulary


def test_vocabulary_threshold_edges():
    counts = {"a": 5, "b": 3, "c": 4, "d": 1}
    vocabulary = Vocabulary.from_counts(counts, unknown_threshold=3)
    # seen 3 times or fewer -> unknown; 4 times -> kept
    assert vocabulary.tokens == (UNKNOWN_TOKEN, "a", "c")
    assert vocabulary.counts == (3 + 1, 5, 4)
    assert "b" not in vocabulary and "c" in vocabulary
    assert Vocabulary.from_counts(counts, unknown_threshold=0).tokens == (UNKNOWN_TOKEN, "a", "c", "b", "d")


def test_vocabulary_ids_most_frequent_first_ties_alphabetical():
    vocabulary = Vocabulary.from_counts({"pear": 2, "apple": 2, "fig": 7}, unknown_threshold=0)
    assert vocabulary.tokens == (UNKNOWN_TOKEN, "fig", "apple", "pear")
    assert vocabulary.id_of("fig") == 1 and vocabulary.id_of("kiwi") == UNKNOWN_ID


def test_max_size_keeps_the_most_frequent_and_counts_the_rest_as_unknown():
    counts = {"the": 50, "cat": 9, "sat": 9, "mat": 9, "on": 20, "rare": 1}
    vocabulary = Vocabulary.from_counts(counts, unknown_threshold=1, max_size=3)
    assert vocabulary.tokens == (UNKNOWN_TOKEN, "the", "on", "cat")  # the tie at 9: "cat" < "mat" < "sat"
    assert vocabulary.counts == (9 + 9 + 1, 50, 20, 9)
    assert vocabulary.max_size == 3
    # The threshold still applies under max_size, and max_size=0 means no limit.
    assert Vocabulary.from_counts(counts, 9, max_size=3).tokens == (UNKNOWN_TOKEN, "the", "on")
    assert len(Vocabulary.from_counts(counts, unknown_threshold=0)) == 7
    assert Vocabulary.from_counts(counts, 0, max_size=2, unlisted=5).counts[0] == 9 * 3 + 1 + 5


def test_encode_decode_round_trip_with_unknown():
    vocabulary = Vocabulary.from_counts({"the": 9, "cat": 5}, unknown_threshold=0)
    ids = vocabulary.encode(["the", "dog", "cat"])
    assert ids.dtype == np.int32
    assert ids.tolist() == [1, UNKNOWN_ID, 2]
    assert vocabulary.decode(ids) == ["the", UNKNOWN_TOKEN, "cat"]
    assert vocabulary.encode(iter(["cat"])).tolist() == [2]


def test_vocabulary_records_its_tokenizer(tmp_path):
    vocabulary = Vocabulary.from_counts({"the": 9, "cat": 5, "rare": 1}, unknown_threshold=1)
    assert vocabulary.tokenizer is UNICODE_WORDS
    recorded = (vocabulary.level, vocabulary.normalisation, vocabulary.normalisation_version)
    assert recorded == ("word", "unicode", 1)
    path = tmp_path / "vocabulary.json"
    path.write_text(vocabulary.to_json(), encoding="utf-8")
    loaded = Vocabulary.load(path)
    assert loaded == vocabulary
    data = json.loads(path.read_text())
    assert data["format"] == "word_predictor.vocabulary/2"
    assert data["unknown_threshold"] == 1 and data["counts"][0] == 1 and data["normalisation_version"] == 1
    assert (data["level"], data["normalisation"], data["max_size"]) == ("word", "unicode", 0)
    assert len(sha256_of(path)) == 64
    chars = Vocabulary.from_counts({"a": 3, "\n": 2}, 0, level="char", normalisation="unicode")
    assert Vocabulary.from_json(chars.to_json()) == chars and chars.tokenizer is CHARACTERS


def test_a_format_1_vocabulary_means_ascii_words_version_1():
    old = {
        "format": "word_predictor.vocabulary/1", "normalisation_version": 1, "unknown_threshold": 3,
        "unknown_token": "<unk>", "size": 3, "tokens": ["<unk>", "the", "cat"], "counts": [4, 9, 5],
    }  # fmt: skip
    vocabulary = Vocabulary.from_json(json.dumps(old))
    assert vocabulary.tokenizer is ASCII_WORDS
    assert (vocabulary.normalisation_version, vocabulary.max_size) == (1, 0)
    assert vocabulary.tokens == ("<unk>", "the", "cat")


def test_vocabulary_refuses_other_normalisation_version():
    data = json.loads(Vocabulary.from_counts({"a": 2}, 0).to_json())
    data["normalisation_version"] = 99
    with pytest.raises(ValueError, match="normalisation version 99 of word/unicode"):
        Vocabulary.from_json(json.dumps(data))


def _good() -> dict:
    return json.loads(Vocabulary.from_counts({"the": 9, "cat": 5}, 0).to_json())


def _with(**changes) -> dict:
    return {**_good(), **changes}


def _without(key: str) -> dict:
    data = _good()
    del data[key]
    return data


@pytest.mark.parametrize(
    "text, message",
    [
        ("not json", "is JSON"),
        ("[1, 2]", "a JSON object, not list"),
        ('"text"', "a JSON object, not str"),
        ("null", "a JSON object, not NoneType"),
        (json.dumps(_with(format="other/1")), "format 'other/1'"),
        (json.dumps(_without("tokens")), "lacks tokens"),
        (json.dumps(_without("counts")), "lacks counts"),
        (json.dumps(_with(counts=["9", 5, 1])), "counts are not whole numbers"),
        (json.dumps(_with(counts=[1, 2.5, 1])), "counts are not whole numbers"),
        (json.dumps(_with(counts=[1, True, 1])), "counts are not whole numbers"),
        (json.dumps(_with(counts=[1, -2, 1])), "counts are not whole numbers"),
        (json.dumps(_with(counts={"a": 1})), "counts are not whole numbers"),
        (json.dumps(_with(counts=[1, 2])), "one count per token"),
        (json.dumps(_with(tokens=["<unk>", "the", "the"])), "each token once"),
        (json.dumps(_with(tokens=["the", "<unk>", "cat"])), "starts with '<unk>'"),
        (json.dumps(_with(tokens=["<unk>", 3, "cat"])), "tokens are not strings"),
        (json.dumps(_with(tokens="<unk> the cat")), "tokens are not strings"),
        (json.dumps(_with(size=7)), "size says 7"),
        (json.dumps(_with(unknown_threshold="3")), "unknown_threshold is not a whole number"),
        (json.dumps(_with(max_size=None)), "max_size is not a whole number"),
        (json.dumps(_with(level=["word"])), "level is not a string"),
        (json.dumps(_with(level="sentence")), "no tokenizer for level 'sentence'"),
        (json.dumps(_with(unknown_token="<UNK>")), "unknown token is not <unk>"),
        (json.dumps(_with(level="char")), "every token but the unknown symbol is one character"),
    ],
)
def test_malformed_vocabulary_json_is_a_value_error_that_says_why(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Vocabulary.from_json(text)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(sorted(_good())), _JSON, max_size=10), st.booleans())
def test_any_json_loads_or_is_a_value_error(fields, start_from_good):
    data = {**_good(), **fields} if start_from_good else fields
    try:
        vocabulary = Vocabulary.from_json(json.dumps(data))
    except ValueError as error:
        assert "\n" not in str(error) and str(error)
    else:
        assert vocabulary.tokens[0] == UNKNOWN_TOKEN
