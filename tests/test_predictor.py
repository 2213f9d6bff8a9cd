import numpy as np

from word_predictor.config import Config
from word_predictor.corpus import Split
from word_predictor.predictor import DEFAULT_PROMPT, sample_prompts
from word_predictor.text import Vocabulary


def test_sample_prompts_never_cross_a_segment_boundary():
    letters = list("abcdefghijkl")
    vocabulary = Vocabulary.from_counts(dict.fromkeys(letters, 2), unknown_threshold=0)
    ids = vocabulary.encode(letters)
    validation = Split.from_lengths(ids, [6, 6])
    config = Config(window_size=5, sample_prompts=["the user's own", "a b c d e"])
    prompts = sample_prompts(config, validation, vocabulary)
    assert prompts[0] == DEFAULT_PROMPT and prompts[-1] == "the user's own"
    assert set(prompts[1:-1]) == {"a b c d e", "g h i j k"}  # each once, though drawn or given twice

