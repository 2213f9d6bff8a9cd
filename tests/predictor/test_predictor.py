import math

import numpy as np
import pytest

from tests.helpers import COUNTS, TOKENS, chain_table, scripted
from word_predictor.predictor.predictor import EmptyTextError
from word_predictor.scoring.figures import softmax


def test_generate_is_reproducible_by_seed_and_varies_across_seeds():
    predictor = scripted()
    first = predictor.generate("the", 12, seed=7, samples=3)
    again = predictor.generate("the", 12, seed=7, samples=3)
    assert [s.tokens for s in first.samples] == [s.tokens for s in again.samples]
    others = {tuple(predictor.generate("the", 12, seed=seed).samples[0].tokens) for seed in range(6)}
    assert len(others) > 1
    assert len({tuple(s.tokens) for s in first.samples}) > 1  # the samples of one call differ too


def test_greedy_follows_the_likeliest_chain_and_is_continue_text():
    predictor = scripted(chain_table())
    generation = predictor.generate("a mat", 5, temperature=0)
    assert generation.context == ["a", "mat"] and generation.unknown == ["a"]
    assert generation.samples[0].tokens == ["the", "cat", "sat", "on", "the"]
    assert predictor.continue_text("a mat", 5) == generation.samples[0].tokens
    with pytest.raises(EmptyTextError):
        predictor.continue_text("!!", 3)


def test_log_probability_is_the_models_probability_of_the_words_written():
    predictor = scripted(chain_table())
    sample = predictor.generate("cat", 6, temperature=1.5, seed=3).samples[0]
    previous = [TOKENS.index("cat")] + [TOKENS.index(t) for t in sample.tokens[:-1]]
    expected = sum(
        math.log(softmax(chain_table()[p])[TOKENS.index(t)]) for p, t in zip(previous, sample.tokens)
    )
    assert sample.log_probability == pytest.approx(expected, rel=1e-5)


def test_stop_ends_each_sample_at_its_stop_word_and_keeps_it():
    predictor = scripted()
    generation = predictor.generate("the", 30, samples=16, seed=1, stop=["mat"])
    assert any(s.stopped for s in generation.samples) and any(len(s.tokens) < 30 for s in generation.samples)
    for sample in generation.samples:
        assert "mat" not in sample.tokens[:-1]
        assert sample.stopped == (sample.tokens[-1] == "mat")
        assert sample.stopped or len(sample.tokens) == 30
    with pytest.raises(ValueError, match="not in the vocabulary"):
        predictor.generate("the", 3, stop=["zebra"])


def test_on_token_reports_every_token_as_it_is_drawn():
    predictor = scripted()
    seen: list[tuple[int, str]] = []
    generation = predictor.generate("the", 10, samples=4, seed=2, stop=["cat"], on_token=lambda *x: seen.append(x))
    for row, sample in enumerate(generation.samples):
        assert [token for r, token in seen if r == row] == sample.tokens


def test_an_empty_prompt_starts_from_the_unigram_counts():
    predictor = scripted()
    greedy = predictor.generate("", 3, temperature=0)
    assert greedy.context == [] and greedy.samples[0].tokens[0] == "the"  # the commonest word
    assert predictor.reader.started == [[[TOKENS.index("the")]]]  # then read as the context
    firsts = [s.tokens[0] for s in predictor.generate("", 1, samples=4000, seed=0).samples]
    shares = {token: firsts.count(token) / len(firsts) for token in TOKENS}
    for token, count in zip(TOKENS, COUNTS):
        assert shares[token] == pytest.approx(count / sum(COUNTS), abs=0.03)
    first = predictor.generate("", 1, seed=5).samples[0]
    assert first.log_probability == pytest.approx(math.log(COUNTS[TOKENS.index(first.tokens[0])] / sum(COUNTS)))


def test_the_unknown_symbol_is_written_only_when_asked():
    table = np.zeros((len(TOKENS), len(TOKENS)))
    table[:, 0] = 5.0  # <unk> is by far the likeliest after anything
    predictor = scripted(table)
    never = predictor.generate("the", 20, samples=4, seed=0)
    assert all("<unk>" not in s.tokens for s in never.samples)
    asked = predictor.generate("the", 20, samples=4, seed=0, include_unknown=True)
    assert sum(s.tokens.count("<unk>") for s in asked.samples) > 40


def test_suggest_many_reads_every_context_in_one_call_and_answers_empty_ones_from_the_start():
    predictor = scripted(chain_table())
    answers = predictor.suggest_many(["the", "", "x y z on", "!!"], top_k=2)
    assert predictor.reader.started == [[[1], [0, 0, 0, 4]]]  # one batch; <unk> for the unknown words
    assert [a.predictions[0][0] for a in answers] == ["cat", "the", "the", "the"]
    assert answers[1].context == [] and answers[1].predictions[1][0] == "cat"  # the next commonest
    assert answers[1].predictions[0][1] == pytest.approx(40 / 100)
    assert answers[2].context == ["x", "y", "z", "on"] and answers[2].unknown == ["x", "y", "z"]
    with pytest.raises(EmptyTextError):
        predictor.suggest("!!")


def test_completions_hold_only_words_with_the_prefix_renormalised():
    predictor = scripted(chain_table())
    [after_the, nothing, start] = predictor.complete_many(["the ca", "the zz", "c"], top_k=10)
    assert after_the.context == ["the"] and after_the.prefix == "ca"
    assert [w for w, _ in after_the.completions] == ["cat", "can"]  # cat is likelier after "the"
    assert sum(p for _, p in after_the.completions) == pytest.approx(1.0)
    assert nothing.prefix == "zz" and nothing.completions == []
    assert start.context == [] and [w for w, _ in start.completions] == ["cat", "can"]  # by count: 20, 15
    assert predictor.complete("the ca", 1).completions[0][0] == "cat"
    assert predictor.keyboard is predictor.keyboard  # one index per Predictor
