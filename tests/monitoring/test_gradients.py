"""monitoring.gradients: each backend's gradients are the slope of the loss, and a backend
without a way to differentiate says so in a text summary rather than writing nothing."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import plugin_tags, tiny_model, values
from word_predictor.backend import keras
from word_predictor.monitoring.gradients import GRADIENTS, GradientNorms
from word_predictor.monitoring.writer import RunWriters

pytestmark = pytest.mark.backend


def test_gradients_on_this_backend_are_the_slope_of_the_loss():
    """A small step against the gradient lowers the loss by step x |gradient|^2."""
    model = tiny_model(cell="gru")
    rng = np.random.default_rng(1)
    inputs = rng.integers(0, 15, (8, 4)).astype("int32")
    targets = rng.integers(0, 15, (8, 4)).astype("int32")

    def loss() -> float:
        return float(keras.ops.convert_to_numpy(model.loss(targets, model(inputs, training=False))))

    gradients = GRADIENTS[keras.backend.backend()](model, inputs, targets, None)
    assert [g.shape for g in gradients] == [tuple(v.shape) for v in model.trainable_variables]
    before, step = loss(), 1e-2
    for variable, gradient in zip(model.trainable_variables, gradients):
        variable.assign(keras.ops.convert_to_numpy(variable.value) - step * gradient)
    expected = step * sum(float(np.sum(np.square(g, dtype=np.float64))) for g in gradients)
    assert before - loss() == pytest.approx(expected, rel=0.05)


def test_gradient_norms_say_so_where_a_backend_has_none(tmp_path):
    model = tiny_model()
    batch = (np.zeros((2, 4), "int32"), np.zeros((2, 4), "int32"))
    writers = RunWriters(tmp_path)
    norms = GradientNorms(writers, batch, backend="numpy")
    norms.set_model(model)
    for epoch in range(2):
        norms.on_epoch_end(epoch)
    writers.close()
    [(step, text)] = values(tmp_path / "train", "gradient_norms")
    assert step == 0 and "not available on the numpy backend" in text
    assert not plugin_tags(tmp_path / "train", "scalars")
