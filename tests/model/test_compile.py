"""compile_model and the InTopK metric.
"""

import numpy as np
import pytest

from tests.helpers import FACTS, VOCABULARY, tiny_batches, tiny_config
from word_predictor.backend import keras
from word_predictor.model.factory import build_model
from word_predictor.model.compile import InTopK, compile_model
from word_predictor.scoring.figures import target_ranks


@pytest.mark.parametrize("context", ["window", "full"])
def test_compiled_model_creates_no_variables_in_its_first_training_step(context):
    # A TensorFlow step that makes variables (the optimizer's slots) is traced twice.
    config = tiny_config(context=context, bptt=4, batch_size=8)
    model = build_model(config, FACTS, "training")
    compile_model(model, config)
    made = len(model.optimizer.variables)
    assert made > len(model.trainable_variables)  # a moment and a velocity for each weight
    if context == "window":
        model.train_on_batch(*tiny_batches(config)[0])
    else:
        tokens = np.zeros((8, 4), np.int32)
        model.train_on_batch({"tokens": tokens, "reset": np.zeros(8, np.float32)}, tokens)
    assert len(model.optimizer.variables) == made


def test_training_accuracies_rank_targets_as_evaluate_does():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 7, VOCABULARY)).astype("float32")
    logits[0, 0] = 1.0  # every token tied with the target: a hit at every k
    targets = rng.integers(0, VOCABULARY, (6, 7))
    weights = rng.integers(0, 2, (6, 7)).astype("float32")
    weights[0, 0] = 1
    ranks = target_ranks(logits.reshape(-1, VOCABULARY), targets.reshape(-1))
    keras_metrics = {1: keras.metrics.SparseCategoricalAccuracy(), 5: keras.metrics.SparseTopKCategoricalAccuracy(5)}
    for k, keras_metric in keras_metrics.items():
        ours = InTopK(k)
        ours.update_state(targets, logits, sample_weight=weights)
        expected = np.sum((ranks < k) * weights.reshape(-1)) / weights.sum()
        assert float(ours.result()) == pytest.approx(expected)
        # Keras' own metric gives the same figure where no tie decides it
        untied = weights.copy()
        untied[0, 0] = 0
        ours.reset_state()
        ours.update_state(targets, logits, sample_weight=untied)
        keras_metric.update_state(targets, logits, sample_weight=untied)
        assert float(ours.result()) == pytest.approx(float(keras_metric.result()))
    again = keras.metrics.deserialize(keras.metrics.serialize(InTopK(5, name="top5_accuracy")))
    assert isinstance(again, InTopK) and again.k == 5 and again.name == "top5_accuracy"

