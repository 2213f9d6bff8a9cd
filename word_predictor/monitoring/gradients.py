"""Gradient norms for --histograms: the gradients of the loss on one fixed training batch,
each backend differentiating its own way."""

from __future__ import annotations

import math

import numpy as np

from word_predictor.backend import keras
from word_predictor.monitoring.writer import RunWriters, WritingCallback

GRADIENTS_UNAVAILABLE_TAG = "gradient_norms"

# A function (model, inputs, targets, sample_weight) -> one gradient (NumPy, or None for a
# weight the loss does not reach) per trainable weight, in model.trainable_variables order.


def _tensorflow_gradients(model, inputs, targets, sample_weight):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = model.loss(targets, model(inputs, training=False), sample_weight=sample_weight)
    gradients = tape.gradient(loss, [weight.value for weight in model.trainable_variables])
    # An embedding's gradient comes as IndexedSlices; convert_to_tensor makes it dense.
    return [None if g is None else tf.convert_to_tensor(g).numpy() for g in gradients]


def _jax_gradients(model, inputs, targets, sample_weight):
    import jax

    # Every non-trainable variable, the dropout layers' seed states included.
    frozen = [variable.value for variable in model.non_trainable_variables]

    def loss_of(trainable):  # JAX differentiates a pure function of the weights' values
        logits, _ = model.stateless_call(trainable, frozen, inputs, training=False)
        return model.loss(targets, logits, sample_weight=sample_weight)

    gradients = jax.grad(loss_of)([weight.value for weight in model.trainable_variables])
    return [np.asarray(g) for g in gradients]


def _torch_gradients(model, inputs, targets, sample_weight):
    import torch

    values = [weight.value for weight in model.trainable_variables]  # torch Parameters
    with torch.enable_grad():
        loss = model.loss(targets, model(inputs, training=False), sample_weight=sample_weight)
        gradients = torch.autograd.grad(loss, values, allow_unused=True)
    return [None if g is None else g.detach().cpu().numpy() for g in gradients]


GRADIENTS = {"tensorflow": _tensorflow_gradients, "jax": _jax_gradients, "torch": _torch_gradients}


class GradientNorms(WritingCallback):
    """Each epoch, the gradients of the loss on one fixed training batch (dropout off):

        train/gradients/<weight>        histogram
        train/gradient_norm/<weight>    L2 norm
        train/gradient_norm/global      the norm of all of them together (what clipnorm sees)

    On a backend without a way here to differentiate, a text summary in train says so
    (tag gradient_norms) instead of nothing at all.
    """

    def __init__(self, writers: RunWriters, batch, backend: str | None = None):
        super().__init__(writers)
        self.inputs, self.targets = batch[0], batch[1]
        self.sample_weight = batch[2] if len(batch) > 2 else None
        self.backend = backend or keras.backend.backend()
        self._said_unavailable = False

    def on_epoch_end(self, epoch, logs=None):
        differentiate = GRADIENTS.get(self.backend)
        train = self.writers["train"]
        if differentiate is None:
            if not self._said_unavailable:
                train.text(
                    GRADIENTS_UNAVAILABLE_TAG,
                    f"Gradient norms are not available on the {self.backend} backend; "
                    f"they are logged on {', '.join(GRADIENTS)}.",
                    step=epoch,
                )
                self._said_unavailable = True
            self.writers.flush()
            return
        gradients = differentiate(self.model, self.inputs, self.targets, self.sample_weight)
        squares = 0.0
        for weight, gradient in zip(self.model.trainable_variables, gradients):
            if gradient is None:
                continue
            square = float(np.sum(np.square(gradient, dtype=np.float64)))
            squares += square
            train.scalar(f"gradient_norm/{weight.path}", math.sqrt(square), step=epoch)
            train.histogram(f"gradients/{weight.path}", gradient, step=epoch)
        train.scalar("gradient_norm/global", math.sqrt(squares), step=epoch)
        self.writers.flush()
