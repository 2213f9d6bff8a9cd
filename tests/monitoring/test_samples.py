"""Sample prompts and the samples tables a run logs each epoch.
"""

import numpy as np

from tests.helpers import TOKENS, scripted
from word_predictor.config import Config, DEFAULT_PROMPT
from word_predictor.corpus.splits import Split
from word_predictor.monitoring.samples import continuations, sample_prompts, samples_markdown
from word_predictor.text.vocabulary import Vocabulary


def test_sample_prompts_never_cross_a_segment_boundary():
    letters = list("abcdefghijkl")
    vocabulary = Vocabulary.from_counts(dict.fromkeys(letters, 2), unknown_threshold=0)
    ids = vocabulary.encode(letters)
    validation = Split.from_lengths(ids, [6, 6])
    config = Config(window_size=5, sample_prompts=["the user's own", "a b c d e"])
    prompts = sample_prompts(config, validation, vocabulary)
    assert prompts[0] == DEFAULT_PROMPT and prompts[-1] == "the user's own"
    assert set(prompts[1:-1]) == {"a b c d e", "g h i j k"}  # each once, though drawn or given twice


def test_samples_markdown_has_the_top5_table_then_one_sampled_continuation_per_prompt():
    predictor = scripted()
    text = samples_markdown(predictor, ["the cat", "!!", "on the mat"])
    table, continuations = text.split("\n\n")
    assert table.splitlines()[0] == "| context | top next words |" and len(table.splitlines()) == 4
    lines = continuations.splitlines()
    assert lines[0] == "| context | sampled continuation (20 words, temperature 1, seed 0) |"
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    assert [context for context, _ in rows] == ["the cat", "on the mat"]
    assert all(len(continuation.split()) == 20 for _, continuation in rows)
    assert samples_markdown(predictor, ["the cat", "!!", "on the mat"]) == text  # a fixed seed


def test_continuations_of_a_model_that_outputs_nan_say_so_instead_of_failing():
    predictor = scripted(np.full((len(TOKENS), len(TOKENS)), np.nan))
    lines = continuations(predictor, ["the cat", "on the mat"]).splitlines()
    assert len(lines) == 4 and all("(none: logits must not be NaN or +inf)" in line for line in lines[2:])



def test_the_top5_table_reads_the_prompts_together_and_gives_each_prompts_own_answer():
    from word_predictor.predictor.predictor import EmptyTextError
    from word_predictor.monitoring.samples import table

    predictor = scripted()
    calls = []
    start = predictor.reader.start
    predictor.reader.start = lambda contexts: calls.append(len(contexts)) or start(contexts)
    prompts = ["the cat", "!!", "on the mat", "cat"]
    lines = table(predictor, prompts).splitlines()[2:]
    assert calls == [3]  # one call for the three prompts that hold a token
    expected = []  # what each prompt alone gets from suggest
    for prompt in prompts:
        try:
            suggestions = predictor.suggest(prompt, 5)
        except EmptyTextError:
            continue
        words = ", ".join(f"{word} ({p:.3f})" for word, p in suggestions.predictions)
        expected.append(f"| {predictor.join(suggestions.context[-20:])} | {words} |")
    assert lines == expected
