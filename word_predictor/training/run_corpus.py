"""The corpus a config asks for: read, split and encoded, with --validation-text and
--test-text (when given) as those splits."""

from __future__ import annotations

import os
from pathlib import Path

from word_predictor.batches import context_for
from word_predictor.config import HELD_OUT_SPLITS, Config, SettingError
from word_predictor.corpus.build import build_corpus, encode_files
from word_predictor.corpus.files import find_text_files
from word_predictor.corpus.in_vocabulary import read_in_vocabulary
from word_predictor.corpus.splits import Corpus
from word_predictor.text.tokenizer import tokenizer_for
from word_predictor.text.vocabulary import Vocabulary
from word_predictor.training.progress import ProgressBar

CACHE_DIR = ".cache"  # under the logdir: the token ids of corpora already read


def corpus_for(config: Config, cache_dir: Path | None = None, normalisation_version: int | None = None,
               context=None) -> Corpus:
    """The corpus read and split as `config` says; --validation-text and --test-text, when
    given, are those splits (one segment per file, in the corpus' vocabulary).
    `normalisation_version`: the rule's version a resumed run began with (None: the current);
    `context`: the run's context (batches.context_for), built here when not given."""
    context = context or context_for(config)
    held_out = _held_out_files(config)  # checked before the (maybe long) read of the corpus
    corpus = build_corpus(
        config.corpus,
        tokenizer=tokenizer_for(config.level, config.normalisation, normalisation_version),
        min_tokens=context.min_tokens,
        block_size=context.block_size,
        unknown_threshold=config.unknown_threshold,
        max_vocabulary=config.max_vocabulary,
        validation_fraction=config.validation_fraction,
        test_fraction=config.test_fraction,
        encoding_errors=config.encoding_errors,
        cache_dir=cache_dir,
        progress=ProgressBar(),
    )
    return _with_held_out(corpus, held_out, config)


def corpus_in_vocabulary(config: Config, vocabulary: Vocabulary, context=None) -> Corpus:
    """The corpus `config` names read in a `vocabulary` already made (a trained run's, continued on
    new text), split as corpus_for splits; a word outside it is the unknown symbol."""
    context = context or context_for(config)
    held_out = _held_out_files(config)
    corpus = read_in_vocabulary(
        config.corpus, vocabulary, validation_fraction=config.validation_fraction, test_fraction=config.test_fraction,
        block_size=context.block_size, min_tokens=context.min_tokens, encoding_errors=config.encoding_errors,
    )  # fmt: skip
    return _with_held_out(corpus, held_out, config)


def _with_held_out(corpus: Corpus, held_out: dict[str, list[Path]], config: Config) -> Corpus:
    for split, files in held_out.items():
        corpus.splits[split] = encode_files(files, corpus.vocabulary, config.encoding_errors, setting=f"{split}_text")
    return corpus


def _held_out_files(config: Config) -> dict[str, list[Path]]:
    """{split: its files} for the held-out splits given as texts, none of them in the corpus."""
    given = {split: getattr(config, f"{split}_text") for split in HELD_OUT_SPLITS}
    held_out = {split: find_text_files(texts, setting=f"{split}_text") for split, texts in given.items() if texts}
    if held_out:
        trained_on = {os.path.realpath(path) for path in find_text_files(config.corpus)}
        for split, files in held_out.items():
            for path in files:
                if os.path.realpath(path) in trained_on:
                    raise SettingError("{path} is in the {corpus} too, so the model would train on its "
                                       "{%s_text}; pass the training files alone as {corpus}" % split, path=path)
    return held_out
