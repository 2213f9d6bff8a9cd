"""Dynamic evaluation (Krause, Kahembwe, Murray and Renals, "Dynamic evaluation of neural
sequence models", 2018): once a segment of text has been scored, one gradient step on it,
then a pull back toward the trained weights, so the model drifts toward the text it is
reading without forgetting what it was trained on:

    w <- w - rate * grad(loss of the segment just scored)
    w <- w + decay * (w_trained - w)

The step is taken on the model in memory only: nothing is written to the run's folder
(the run's files are only ever read; a test hashes the folder before and after).
"""

from __future__ import annotations

import numpy as np

from word_predictor.backend import keras
from word_predictor.adaptation.settings import DynamicSettings


class DynamicEvaluation:
    """SGD steps on a run's inference view, in memory: `learn` after each scored segment,
    `restore` to go back to the trained weights."""

    def __init__(self, model: keras.Model, settings: DynamicSettings):
        self.settings = settings
        # The logits alone (a full-context view also gives out its states): what the loss reads.
        logits = model.outputs[0]
        self.twin = keras.Model(model.inputs, logits, name="dynamic_evaluation")
        for layer in model.layers:  # a step reads the text as evaluation does: no dropout
            if isinstance(layer, keras.layers.Dropout):
                layer.rate = 0.0
        self.twin.compile(
            optimizer=keras.optimizers.SGD(settings.rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        self.variables = list(self.twin.trainable_variables)
        self.trained = [keras.ops.convert_to_tensor(np.array(v.numpy(), copy=True)) for v in self.variables]

    def learn(self, inputs, targets: np.ndarray) -> None:
        """One step on a segment: `inputs` as the view takes them, `targets` the next token
        of each position, shaped as the view's logits less their last axis."""
        self.twin.train_on_batch(inputs, np.asarray(targets, np.int32))
        decay = self.settings.decay
        if decay:
            for variable, trained in zip(self.variables, self.trained):
                variable.assign(variable + decay * (trained - variable))

    def restore(self) -> None:
        """Back to the trained weights."""
        for variable, trained in zip(self.variables, self.trained):
            variable.assign(trained)
