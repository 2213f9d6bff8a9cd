"""The continuous cache answers the same through the runtime as through Keras: one model,
exported, learns the same text on both engines, then suggests, completes and scores a
text with the same probabilities, within the export's parity tolerance."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx", reason="the export extra (pip install -e .[export]) is not installed")
pytest.importorskip("onnxruntime", reason="the runtime extra (pip install -e .[runtime]) is not installed")

from tests.exporter.kinds import KINDS, REAL_TEXT, make_run, real_split  # noqa: E402
from tests.exporter.test_onnx import TOLERANCE  # noqa: E402
from word_predictor.adaptation.scoring import Adaptation, score_adapted  # noqa: E402
from word_predictor.adaptation.settings import CacheSettings  # noqa: E402
from word_predictor.exporter.folder import export_run  # noqa: E402
from word_predictor.predictor import Predictor  # noqa: E402
from word_predictor.predictor.adaptive import AdaptivePredictor  # noqa: E402
from word_predictor.runtime import load  # noqa: E402

pytestmark = pytest.mark.backend

SETTINGS = CacheSettings(mix=0.5, theta=10.0)  # a large, sharp share: a cache that differed would show
# a window and a full-context run, bidirectional and tied through a projection, and a char run
COMPARED = ("lstm-window", "lstm-full-stacked", "gru-bidirectional", "gru-full-tied-projected", "lstm-char-full")


def both_engines(kind: str, folder):
    """(Keras predictor, runtime predictor) of one model of `kind` with random weights."""
    run = make_run(KINDS[kind])
    export_run(run, "onnx", folder)
    return Predictor.from_run(run), load(folder)


def _same(ours: list[tuple[str, float]], theirs: list[tuple[str, float]]) -> None:
    assert [word for word, _ in ours] == [word for word, _ in theirs]
    assert np.abs(np.log([p for _, p in ours]) - np.log([p for _, p in theirs])).max() < TOLERANCE


@pytest.mark.parametrize("kind", COMPARED)
def test_the_cache_on_the_runtime_gives_the_keras_probabilities(kind, tmp_path):
    keras, runtime = both_engines(kind, tmp_path / "exported")
    text = REAL_TEXT.read_text(encoding="utf-8")[:600] + " and zorblax ate the bread . zorblax ate the loaf ."
    learners = [AdaptivePredictor.over(engine, SETTINGS) for engine in (keras, runtime)]
    assert learners[0].learn(text) == learners[1].learn(text)
    assert learners[0].learned() == learners[1].learned() and len(learners[0].cache) > 50
    prompt = "the bread and zorblax ate the" if keras.config.level == "word" else "the bread and zorblax ate the lo"
    everything = len(keras.vocabulary) + len(learners[0].learned())
    shown = [learner.suggest(prompt, top_k=everything).predictions for learner in learners]
    _same(*shown)
    plain = dict(keras.suggest(prompt, top_k=everything).predictions)
    assert max(abs(p - plain.get(word, 0.0)) for word, p in shown[0]) > 0.01  # the cache changed the answer
    typing = prompt + " zo" if keras.config.level == "word" else prompt  # a word's first letters
    completed = [learner.complete(typing, 5) for learner in learners]
    _same(completed[0].completions, completed[1].completions)
    assert completed[0].completions


@pytest.mark.parametrize("kind", ["lstm-window", "lstm-full-stacked"])
def test_evaluate_s_cache_on_the_runtime_gives_the_keras_figures(kind, tmp_path):
    keras, runtime = both_engines(kind, tmp_path / "exported")
    split = real_split(keras.vocabulary, 300)
    (keras_plain, keras_adapted), (plain, adapted) = (
        score_adapted(engine, split, Adaptation(cache=SETTINGS)) for engine in (keras, runtime)
    )
    assert keras_adapted["tokens"] == adapted["tokens"] and keras_adapted["top1"] == adapted["top1"]
    for ours, theirs in ((keras_plain, plain), (keras_adapted, adapted)):
        assert abs(np.log(ours["perplexity"]) - np.log(theirs["perplexity"])) < TOLERANCE
    assert abs(np.log(adapted["perplexity"]) - np.log(plain["perplexity"])) > 0.01  # the cache did something
