"""predictor.generation: the draw loop over a scripted reader (the next token depends on the
last one only), as flax's sampler test injects its tokens_to_logits: no model needed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.helpers import COUNTS, TOKENS, BigramReader, chain_table
from word_predictor.predictor.generation import draw
from word_predictor.scoring.figures import softmax
from word_predictor.text.vocabulary import Vocabulary

VOCABULARY = Vocabulary(tokens=TOKENS, counts=COUNTS, unknown_threshold=0)
GREEDY = dict(temperature=0.0, rng=np.random.default_rng(0))


def log_p(after: str, token: str) -> float:
    return math.log(softmax(chain_table()[TOKENS.index(after)])[TOKENS.index(token)])


def test_greedy_draws_follow_the_chain_and_add_up_the_models_log_probability():
    reader = BigramReader(chain_table())
    samples = draw(reader, VOCABULARY, np.zeros(len(TOKENS)), [["the"], ["sat"]], 4, **GREEDY)
    assert [s.tokens for s in samples] == [["cat", "sat", "on", "the"], ["on", "the", "cat", "sat"]]
    expected = log_p("the", "cat") + log_p("cat", "sat") + log_p("sat", "on") + log_p("on", "the")
    assert samples[0].log_probability == pytest.approx(expected)
    assert not any(s.stopped for s in samples)
    assert len(reader.started) == 1  # the prompts are read once, as one batch; then advanced


def test_a_row_stops_at_a_stop_token_and_writes_nothing_more_while_the_others_go_on():
    written = []
    samples = draw(BigramReader(chain_table()), VOCABULARY, np.zeros(len(TOKENS)), [["cat"], ["on"]], 4,
                   stop_ids=[TOKENS.index("on")], on_token=lambda row, token: written.append((row, token)),
                   **GREEDY)  # fmt: skip
    assert samples[0].tokens == ["sat", "on"] and samples[0].stopped
    assert samples[1].tokens == ["the", "cat", "sat", "on"] and samples[1].stopped
    assert [token for row, token in written if row == 0] == ["sat", "on"]  # told token by token, in order


def test_an_empty_context_starts_from_the_begin_logits_and_reads_its_first_token():
    reader = BigramReader(chain_table())
    begin = np.full(len(TOKENS), -5.0)
    begin[TOKENS.index("mat")] = 5.0
    samples = draw(reader, VOCABULARY, begin, [[], []], 3, **GREEDY)
    assert [s.tokens for s in samples] == [["mat", "the", "cat"]] * 2
    assert reader.started[0] == [[TOKENS.index("mat")], [TOKENS.index("mat")]]


def test_the_unknown_symbol_is_never_drawn():
    table = np.zeros((len(TOKENS), len(TOKENS)))
    table[:, 0] = 50.0  # the unknown symbol far likelier than anything
    samples = draw(BigramReader(table), VOCABULARY, np.zeros(len(TOKENS)), [["the"]], 5,
                   rng=np.random.default_rng(0))  # fmt: skip
    assert "<unk>" not in samples[0].tokens and len(samples[0].tokens) == 5


def test_empty_and_written_contexts_are_not_drawn_together():
    with pytest.raises(ValueError, match="all be empty or all hold tokens"):
        draw(BigramReader(chain_table()), VOCABULARY, np.zeros(len(TOKENS)), [[], ["the"]], 2, **GREEDY)
    assert draw(BigramReader(chain_table()), VOCABULARY, np.zeros(len(TOKENS)), [], 2, **GREEDY) == []
