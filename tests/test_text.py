import json

import numpy as np
import pytest

from word_predictor.text import UNKNOWN_ID, UNKNOWN_TOKEN, Vocabulary, normalise, sha256_of, words


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
        ("", ""),
        ("!!! ...", ""),
    ],
)
def test_normalise_cases(raw, expected):
    assert normalise(raw) == expected


def test_words_splits_normalised_text():
    assert words("Some of THEM, looks like.") == ["some", "of", "them", "looks", "like"]
    assert words("...") == []


def test_unknown_token_cannot_be_a_normalised_word():
    assert normalise(UNKNOWN_TOKEN) != UNKNOWN_TOKEN


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


def test_encode_decode_round_trip_with_unknown():
    vocabulary = Vocabulary.from_counts({"the": 9, "cat": 5}, unknown_threshold=0)
    ids = vocabulary.encode(["the", "dog", "cat"])
    assert ids.dtype == np.int32
    assert ids.tolist() == [1, UNKNOWN_ID, 2]
    assert vocabulary.decode(ids) == ["the", UNKNOWN_TOKEN, "cat"]


def test_vocabulary_json_round_trip(tmp_path):
    vocabulary = Vocabulary.from_counts({"the": 9, "cat": 5, "rare": 1}, unknown_threshold=1)
    path = tmp_path / "vocabulary.json"
    path.write_text(vocabulary.to_json(), encoding="utf-8")
    loaded = Vocabulary.load(path)
    assert loaded == vocabulary
    data = json.loads(path.read_text())
    assert data["unknown_threshold"] == 1 and data["counts"][0] == 1 and data["normalisation_version"] == 1
    assert len(sha256_of(path)) == 64


def test_vocabulary_refuses_other_normalisation_version(tmp_path):
    data = json.loads(Vocabulary.from_counts({"a": 2}, 0).to_json())
    data["normalisation_version"] = 99
    with pytest.raises(ValueError, match="normalisation version"):
        Vocabulary.from_json(json.dumps(data))
