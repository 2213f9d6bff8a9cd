"""The vocabulary: thresholds, ids, encode/decode, and its JSON format refused when malformed.
"""

import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import NORMALISED_WORD
from word_predictor.text.tokenizer import ASCII_WORDS, CHARACTERS, UNICODE_WORDS
from word_predictor.text.vocabulary import UNKNOWN_ID, UNKNOWN_TOKEN, Vocabulary, sha256_of


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
    assert recorded == ("word", "unicode", 2)
    path = tmp_path / "vocabulary.json"
    path.write_text(vocabulary.to_json(), encoding="utf-8")
    loaded = Vocabulary.load(path)
    assert loaded == vocabulary
    data = json.loads(path.read_text())
    assert data["format"] == "word_predictor.vocabulary/2"
    assert data["unknown_threshold"] == 1 and data["counts"][0] == 1 and data["normalisation_version"] == 2
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
        ("[1, 2]", "not a JSON object but a list"),
        ('"text"', "not a JSON object but a str"),
        ("null", "not a JSON object but a NoneType"),
        (json.dumps(_with(format="other/1")), "format 'other/1'"),
        (json.dumps(_without("tokens")), "lacks tokens"),
        (json.dumps(_without("counts")), "lacks counts"),
        (json.dumps(_with(counts=["9", 5, 1])), "counts.0: Input should be a valid integer"),
        (json.dumps(_with(counts=[1, 2.5, 1])), "counts.1: Input should be a valid integer"),
        (json.dumps(_with(counts=[1, True, 1])), "counts.1: Input should be a valid integer"),
        (json.dumps(_with(counts=[1, -2, 1])), "counts are not whole numbers"),
        (json.dumps(_with(counts={"a": 1})), "counts: Input should be a valid list"),
        (json.dumps(_with(counts=[1, 2])), "3 tokens and 2 counts"),
        (json.dumps(_with(tokens=["<unk>", "the", "the"])), "each token once"),
        (json.dumps(_with(tokens=["the", "<unk>", "cat"])), "starts with '<unk>'"),
        (json.dumps(_with(tokens=["<unk>", 3, "cat"])), "tokens.1: Input should be a valid string"),
        (json.dumps(_with(tokens="<unk> the cat")), "tokens: Input should be a valid list"),
        (json.dumps(_with(size=7)), "size says 7"),
        (json.dumps(_with(unknown_threshold="3")), "unknown_threshold: Input should be a valid integer"),
        (json.dumps(_with(max_size=None)), "max_size: Input should be a valid integer"),
        (json.dumps(_with(level=["word"])), "level: Input should be a valid string"),
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


@settings(max_examples=200)
@given(st.dictionaries(NORMALISED_WORD, st.integers(1, 50), max_size=30), st.integers(0, 10), st.randoms())
def test_vocabulary_ids_are_dense_stable_and_respect_the_threshold(counts, threshold, rng):
    vocabulary = Vocabulary.from_counts(counts, threshold)
    # Dense: every id 0..n-1 names one token, and that token maps back to it.
    assert vocabulary.tokens[UNKNOWN_ID] == UNKNOWN_TOKEN
    assert [vocabulary.id_of(token) for token in vocabulary.tokens] == list(range(len(vocabulary)))
    # Exactly the words seen more than `threshold` times are kept; the rest count as unknown.
    assert set(vocabulary.tokens[1:]) == {w for w, n in counts.items() if n > threshold}
    assert vocabulary.counts[UNKNOWN_ID] == sum(n for n in counts.values() if n <= threshold)
    assert list(vocabulary.counts[1:]) == sorted(vocabulary.counts[1:], reverse=True)
    for word in counts:
        expected = vocabulary.tokens.index(word) if counts[word] > threshold else UNKNOWN_ID
        assert vocabulary.id_of(word) == expected
    # Stable: the order the counts arrive in changes nothing, nor does a JSON round trip.
    shuffled = list(counts.items())
    rng.shuffle(shuffled)
    assert Vocabulary.from_counts(dict(shuffled), threshold) == vocabulary
    assert Vocabulary.from_json(vocabulary.to_json()) == vocabulary

