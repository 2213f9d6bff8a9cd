"""A corpus read in a vocabulary already made (train --from): the same splits build_corpus
makes of the same text, ids of the given vocabulary, and too little text refused by name."""

import numpy as np
import pytest

from tests.helpers import write
from word_predictor.corpus.build import build_corpus
from word_predictor.corpus.files import CorpusSettingError
from word_predictor.corpus.in_vocabulary import read_in_vocabulary
from word_predictor.corpus.splits import window_block_size
from word_predictor.text.tokenizer import UNICODE_WORDS
from word_predictor.text.vocabulary import UNKNOWN_ID, Vocabulary

SPLIT_SETTINGS = dict(validation_fraction=0.1, test_fraction=0.2, block_size=window_block_size(3), min_tokens=4)
KEPT = Vocabulary.from_counts({"the": 9, "cat": 5, "sat": 4, "on": 3, "mat": 2}, 0)


def test_the_text_is_split_as_build_corpus_splits_it_in_the_given_vocabulary(tmp_path):
    text = "the cat sat on the mat and the dog sat on the rug . " * 40
    write(tmp_path / "a" / "one.txt", text)
    write(tmp_path / "a" / "two.txt", text)
    read = read_in_vocabulary([tmp_path / "a"], KEPT, **SPLIT_SETTINGS)
    built = build_corpus([tmp_path / "a"], tokenizer=UNICODE_WORDS, unknown_threshold=0, **SPLIT_SETTINGS)
    assert read.vocabulary == KEPT and read.files == built.files
    for name, split in read.splits.items():
        np.testing.assert_array_equal(split.bounds, built.splits[name].bounds)
    ids = np.asarray(read.splits["train"].ids)
    words = built.vocabulary.decode(np.asarray(built.splits["train"].ids))
    np.testing.assert_array_equal(ids, KEPT.encode(words))  # "and", "dog" and "rug" are unknown
    assert (ids == UNKNOWN_ID).sum() == 3 * 40 * 2


def test_too_little_text_is_refused_naming_the_corpus(tmp_path):
    write(tmp_path / "short.txt", "the cat")
    with pytest.raises(CorpusSettingError) as refused:
        read_in_vocabulary([tmp_path / "short.txt"], KEPT, **SPLIT_SETTINGS)
    assert refused.value.phrased({"corpus": "--corpus"}).startswith("the --corpus has 2 word(s)")
