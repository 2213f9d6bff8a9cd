"""The trainer's side of the regularisers (model.regularisers): the averaged weights in
place of the trained ones wherever a run judges or keeps its model, and the activation
regularisation's figures in each epoch's logs."""

from __future__ import annotations

import contextlib

from word_predictor.backend import keras

ops = keras.ops
REGULARISATION_LAYER = "activation_regularisation"  # model.regularisers.regularised_output's layer
# The figures RegularisationFigures adds to the logs, in the order of the layer's totals.
REGULARISATION_FIGURES = ("activation_regularisation", "temporal_activation_regularisation")


class AveragedWeights(keras.callbacks.Callback):
    """With weight_averaging, the optimiser's moving average of the weights (Keras'
    use_ema) is the model a run validates, samples and keeps; the trained weights go on
    training, and are what the resume checkpoint holds:

        on_test_begin, on_epoch_end      the averages in place (put this first: Keras'
                                         validation, ScoredValidation, the samples and the
                                         kept model all read the model's weights)
        trained()                        the trained weights in place, for the resume save
        on_epoch_begin, on_train_end     the trained weights back
    """

    def __init__(self):
        super().__init__()
        self._trained = None  # the trained weights while the averages stand in for them

    def _pairs(self):
        optimizer = self.model.optimizer
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # under a LossScaleOptimizer
        # Keras keeps the averages beside the variables it was built with, in the same order.
        return list(zip(optimizer._trainable_variables, optimizer._model_variables_moving_average))

    def use_average(self) -> None:
        if self._trained is not None:
            return
        pairs = self._pairs()
        self._trained = [ops.copy(variable.value) for variable, _ in pairs]
        for variable, average in pairs:  # a copy: on JAX a training step frees the buffers it is given
            variable.assign(ops.copy(average.value))

    def use_trained(self) -> None:
        if self._trained is None:
            return
        for (variable, _), value in zip(self._pairs(), self._trained):
            variable.assign(value)
        self._trained = None

    @contextlib.contextmanager
    def trained(self):
        """The trained weights in place inside, the averages again after (if they were)."""
        averaged = self._trained is not None
        self.use_trained()
        try:
            yield
        finally:
            if averaged:
                self.use_average()

    def on_test_begin(self, logs=None):
        self.use_average()

    def on_test_end(self, logs=None):
        pass  # kept in place until the epoch's end, when the rest read them

    def on_epoch_end(self, epoch, logs=None):
        self.use_average()

    def on_epoch_begin(self, epoch, logs=None):
        self.use_trained()

    def on_train_end(self, logs=None):
        self.use_trained()


class RegularisationFigures(keras.callbacks.Callback):
    """Adds activation_regularisation and temporal_activation_regularisation, each loss
    term's mean over the epoch's training steps, to each epoch's logs (EpochScalars writes
    them to TensorBoard). Nothing without the layer (neither term set)."""

    def _layer(self):
        names = {layer.name for layer in self.model.layers}
        return self.model.get_layer(REGULARISATION_LAYER) if REGULARISATION_LAYER in names else None

    def on_epoch_begin(self, epoch, logs=None):
        layer = self._layer()
        if layer is not None:
            layer.totals.assign(ops.zeros(layer.totals.shape))  # zeros_like reads the variable, which JAX cannot

    def on_epoch_end(self, epoch, logs=None):
        layer = self._layer()
        if layer is None or logs is None:
            return
        *terms, steps = (float(value) for value in layer.totals.numpy())
        if steps:
            logs.update({name: term / steps for name, term in zip(REGULARISATION_FIGURES, terms)})
