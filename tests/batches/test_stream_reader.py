"""Reading a long text through a stacked full-context model: the pipeline of one model per
layer (StreamReader._pipelined) gives what one pass of the whole model gives."""

from __future__ import annotations

import numpy as np
import pytest

from word_predictor.batches.stream_reader import StreamReader
from word_predictor.config import Config, CorpusFacts
from word_predictor.corpus.splits import Split
from word_predictor.model.factory import build_model, layer_stages

VOCABULARY, CHUNK = 13, 8
FACTS = CorpusFacts(vocabulary_size=VOCABULARY)


@pytest.mark.backend
@pytest.mark.parametrize(
    "settings",
    [dict(cell="lstm", layers=2, tie_weights=True, embedding_dim=5),
     dict(cell="gru", layers=3, one_hot=True),
     dict(cell="simple_rnn", layers=2),
     dict(cell="lstm", layers=1)],  # one layer: the whole model, chunk after chunk
    ids=["lstm-2-tied", "gru-3-one-hot", "simple_rnn-2", "lstm-1"],
)  # fmt: skip
@pytest.mark.parametrize("length", [2 * CHUNK, 5 * CHUNK + 3])
def test_the_layer_pipeline_reads_a_text_as_the_whole_model_does(settings, length):
    config = Config(**{"units": 5, "embedding_dim": 4, "context": "full",
                       "dropout": 0.3, **settings})  # fmt: skip
    model = build_model(config, FACTS)
    rng = np.random.default_rng(5)
    model.set_weights([rng.normal(scale=0.6, size=w.shape).astype("float32") for w in model.get_weights()])
    tokens = rng.integers(0, VOCABULARY, (2, length)).astype("int32")
    start = [rng.normal(size=(2, config.units)).astype("float32") for _ in model.inputs[1:]]
    expected_logits, *expected_state = model.predict_on_batch([tokens, *start])

    reader = StreamReader(model, config, chunk=CHUNK)
    pipelined, calls = reader._pipelined, []
    reader._pipelined = lambda *args: calls.append("pipeline") or pipelined(*args)
    logits, state = reader.read(tokens, start)

    if reader._pipelines():  # all but a tied embedding on JAX (shared weights, donated per call)
        assert calls == ["pipeline"]  # the whole chunks went through it
    np.testing.assert_allclose(logits, expected_logits[:, -1], rtol=1e-5, atol=1e-5)
    for got, expected in zip(state, expected_state, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.backend
def test_scoring_through_the_pipeline_gives_what_the_whole_model_gives():
    """Segments side by side in lanes, each lane's state zeroed where a new segment starts."""
    config = Config(units=5, embedding_dim=4, context="full", layers=2)
    model = build_model(config, FACTS)
    rng = np.random.default_rng(9)
    model.set_weights([rng.normal(scale=0.6, size=w.shape).astype("float32") for w in model.get_weights()])
    split = Split.from_lengths(rng.integers(0, VOCABULARY, 700).astype("int32"), [300, 5, 150, 245])
    whole_model = StreamReader(model, config)
    whole_model._pipelines = lambda: False
    pipelined = StreamReader(model, config)
    assert pipelined._pipelines()
    for batch_size in (64, 256):  # one lane in chunks of 64; four lanes of 64
        expected = list(whole_model.scored(split, batch_size))
        got = list(pipelined.scored(split, batch_size))
        assert len(got) == len(expected) > 2
        for (logits, targets), (expected_logits, expected_targets) in zip(got, expected, strict=True):
            np.testing.assert_array_equal(targets, expected_targets)
            np.testing.assert_allclose(logits, expected_logits, rtol=1e-5, atol=1e-5)


def test_the_stages_share_the_models_weights():
    config = Config(units=3, embedding_dim=3, context="full", layers=2)
    model = build_model(config, FACTS)
    stages = layer_stages(model, config)
    assert [len(stage.inputs) for stage in stages] == [3, 3]  # (tokens or outputs below, h, c)
    assert {id(w) for stage in stages for w in stage.weights} == {id(w) for w in model.weights}
