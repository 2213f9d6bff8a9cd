"""Folders of .txt files read in a vocabulary already made (a trained run's, continued on new
text), then split as build_corpus splits: blocks dealt to train, validation and test.

    MY_TEXT/*.txt --the vocabulary's own rule--> ids (a word outside it: the unknown symbol)
                  --blocks--> | train | test | train  train | validation | ...

Nothing is counted and nothing is cached: the vocabulary is given, and such a text (a
user's own files) is small enough to read again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from word_predictor.corpus.build import encode_files
from word_predictor.corpus.files import CorpusSettingError, find_text_files
from word_predictor.corpus.splits import Corpus, Split, split_bounds
from word_predictor.text.vocabulary import Vocabulary


def read_in_vocabulary(
    paths: Sequence[str | os.PathLike], vocabulary: Vocabulary, *, validation_fraction: float,
    test_fraction: float, block_size: Callable[[int], int], min_tokens: int = 1, encoding_errors: str = "strict",
) -> Corpus:  # fmt: skip
    """The text of `paths` as ids of `vocabulary` (read by its tokenizer, the rule it was made
    with), one id array cut into the splits; `block_size(n_tokens)` and `min_tokens` as for
    build_corpus. A CorpusSettingError names {corpus} where there is too little text."""
    files = find_text_files(paths)
    whole = encode_files(files, vocabulary, encoding_errors)
    n_tokens = whole.token_count
    if n_tokens < min_tokens:
        unit = vocabulary.tokenizer.unit
        raise CorpusSettingError(
            "the {corpus} has {n_tokens} %s(s) after normalisation, fewer than the {min_tokens} needed for one "
            "context and its target; add text" % unit, n_tokens=n_tokens, min_tokens=min_tokens,
        )  # fmt: skip
    bounds = split_bounds(n_tokens, block_size(n_tokens), validation_fraction, test_fraction)
    splits = {name: Split(whole.ids, spans) for name, spans in bounds.items()}
    return Corpus(vocabulary=vocabulary, splits=splits, files=[str(path) for path in files])
