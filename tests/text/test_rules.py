"""text.rules, read through the tokenizers that name them: Unicode format characters
(category Cf) in normalisation, version 2 of both unicode rules (invisible characters
dropped, joiners kept where a script needs them), and the versions kept for the runs that
recorded version 1."""

from __future__ import annotations

import json

import pytest

from word_predictor.text.tokenizer import CHARACTERS, UNICODE_WORDS, VERSIONS, tokenizer_for
from word_predictor.text.vocabulary import Vocabulary

ZWSP, ZWNJ, ZWJ, WORD_JOINER, BOM, RLO, LRM = "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u202e", "\u200e"
FORMATS = [ZWSP, ZWNJ, ZWJ, WORD_JOINER, BOM, RLO, LRM, "\u2066", "\u2069", "\u061c"]


@pytest.mark.parametrize("joiner", [ZWJ, ZWNJ, ZWJ + ZWNJ])
def test_a_joiner_inside_a_latin_word_is_dropped_without_a_break(joiner):
    assert UNICODE_WORDS.tokens(f"she walk{joiner}ed home") == ["she", "walked", "home"]
    assert CHARACTERS.tokens(f"ab{joiner}c") == ["a", "b", "c"]


@pytest.mark.parametrize("character", [WORD_JOINER, BOM, RLO, LRM, "\u2066", "\u2069"])
def test_other_format_characters_are_dropped_at_both_levels(character):
    assert UNICODE_WORDS.tokens(f"wal{character}ked") == ["walked"]
    assert CHARACTERS.tokens(f"a{character}b") == ["a", "b"]


def test_a_text_of_only_format_characters_holds_no_token():
    text = "".join(FORMATS) * 3
    assert UNICODE_WORDS.tokens(text) == []
    assert CHARACTERS.tokens(text) == []


@pytest.mark.parametrize(
    "word",
    [
        "می\u200cخواهم",  # Persian: the non-joiner keeps the prefix's letter unjoined
        "क्\u200dष",  # Devanagari: the joiner asks for a half form
        "ශ්\u200dරී",  # Sinhala: a conjunct
    ],
)
def test_joiners_a_script_needs_are_kept(word):
    assert UNICODE_WORDS.tokens(f"x {word} y") == ["x", word, "y"]
    assert ("\u200c" in CHARACTERS.normalise(word)) or ("\u200d" in CHARACTERS.normalise(word))


def test_a_joiner_between_emoji_is_kept_by_the_char_level_and_at_word_edges_dropped():
    family = "\U0001F468\u200d\U0001F469"
    assert CHARACTERS.normalise(family) == family
    assert CHARACTERS.normalise(f"a {ZWJ}b{ZWJ} c") == "a b c"


def test_version_1_stays_registered_and_reads_as_before():
    old_words = tokenizer_for("word", "unicode", 1)
    old_characters = tokenizer_for("char", "unicode", 1)
    assert old_words.tokens(f"walk{ZWJ}ed") == [f"walk{ZWJ}ed"]  # the old rule, unchanged
    assert old_characters.tokens(f"a{RLO}b") == ["a", RLO, "b"]
    assert (UNICODE_WORDS.version, CHARACTERS.version) == (2, 2)
    assert set(VERSIONS) >= {("word", "unicode", 1), ("word", "unicode", 2), ("char", "unicode", 1),
                             ("char", "unicode", 2), ("word", "ascii", 1)}  # fmt: skip


def test_a_run_that_recorded_version_1_loads_and_reads_with_version_1():
    data = json.loads(Vocabulary.from_counts({"walked": 3, "home": 2}, 0).to_json())
    assert data["normalisation_version"] == 2  # a new run records the current version
    data["normalisation_version"] = 1
    old = Vocabulary.from_dict(data)
    assert old.tokenizer is tokenizer_for("word", "unicode", 1)
    assert old.tokenizer.tokens(f"walk{ZWJ}ed") == [f"walk{ZWJ}ed"]


def test_an_unknown_version_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match=r"normalisation version 7 of word/unicode .*\(1, 2\)"):
        tokenizer_for("word", "unicode", 7)


def test_a_tokenizer_travels_to_worker_processes_with_its_version():
    from multiprocessing.reduction import ForkingPickler  # what worker processes are sent with

    old = tokenizer_for("char", "unicode", 1)
    assert ForkingPickler.loads(ForkingPickler.dumps(old)) is old
    assert ForkingPickler.loads(ForkingPickler.dumps(CHARACTERS)) is CHARACTERS
