"""training/regularisation.py: the averaged weights stand in for the trained ones where a run
judges and keeps its model (and the trained ones go on training and are what resume reads),
and the activation regularisation's figures reach each epoch's logs."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import tiny_batches, tiny_model
from word_predictor import rundir
from word_predictor.backend import keras
from word_predictor.config import Config, CorpusFacts
from word_predictor.model.factory import build_model
from word_predictor.training.checkpoint import RunCheckpoint
from word_predictor.training.regularisation import REGULARISATION_FIGURES, AveragedWeights, RegularisationFigures


def weights(model) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]


def averages(model) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(a) for a in model.optimizer._model_variables_moving_average]


def same(a, b) -> bool:
    return all(np.allclose(x, y, rtol=1e-6, atol=1e-7) for x, y in zip(a, b))


class Seen(keras.callbacks.Callback):
    """What the model holds at each epoch's begin and end, where it runs among the callbacks."""

    def __init__(self):
        super().__init__()
        self.begin, self.end, self.averages = [], [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.begin.append(weights(self.model))

    def on_epoch_end(self, epoch, logs=None):
        self.end.append(weights(self.model))
        self.averages.append(averages(self.model))


def test_the_averages_stand_in_at_an_epochs_end_and_training_goes_on_from_the_trained_weights():
    keras.utils.set_random_seed(0)
    model = tiny_model(weight_averaging=True)
    before, after = Seen(), Seen()  # around AveragedWeights
    batches = tiny_batches(Config(window_size=4, units=6, embedding_dim=3))
    model.fit(batches, epochs=2, verbose=0, callbacks=[before, AveragedWeights(), after])
    for epoch in range(2):
        assert same(after.end[epoch], after.averages[epoch])  # validated, sampled and kept: the averages
        assert not same(before.end[epoch], after.averages[epoch])  # which are not the trained weights
    assert same(after.begin[1], before.end[0])  # the next epoch trains on from the trained weights
    assert same(weights(model), before.end[1])  # and fit ends with them in place


def test_the_resume_checkpoint_holds_the_trained_weights_and_the_kept_model_the_averages(tmp_path):
    keras.utils.set_random_seed(0)
    config = Config(units=6, embedding_dim=3, window_size=4, dropout=0.0, weight_averaging=True)
    model = tiny_model(weight_averaging=True)
    batches = tiny_batches(config)
    for i in range(4):
        model.train_on_batch(*batches[i])
    trained, averaged = weights(model), averages(model)
    assert not same(trained, averaged)
    averaging = AveragedWeights()
    averaging.set_model(model)
    averaging.use_average()
    saving = RunCheckpoint(tmp_path, [], {}, inference_view=build_model(config, CorpusFacts(vocabulary_size=15)), trained_weights=averaging.trained)
    saving.set_model(model)
    saving.on_epoch_end(0, {"loss": 2.0, "val_loss": 2.0})
    assert same(weights(rundir.load_model(tmp_path / rundir.MODEL_FILE)), averaged)
    resumed = rundir.load_model(tmp_path / rundir.CHECKPOINT_DIR / rundir.CHECKPOINT_MODEL, compile=True)
    assert same(weights(resumed), trained)
    assert same(averages(resumed), averaged)  # the averaging goes on where it was
    assert same(weights(model), averaged)  # and the averages are back in place after the save


@pytest.mark.parametrize("with_terms", [True, False])
def test_the_terms_of_activation_regularisation_are_an_epochs_figures(with_terms):
    keras.utils.set_random_seed(0)
    terms = dict(activation_regularisation=2.0, temporal_activation_regularisation=1.0) if with_terms else {}
    model = tiny_model(**terms)
    logged = {}

    class Logged(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logged[epoch] = dict(logs)

    batches = tiny_batches(Config(window_size=4, units=6, embedding_dim=3))
    model.fit(batches, epochs=2, verbose=0, callbacks=[RegularisationFigures(), Logged()])
    if not with_terms:
        assert not set(REGULARISATION_FIGURES) & set(logged[1])
        return
    for epoch in range(2):
        assert all(logged[epoch][name] > 0 for name in REGULARISATION_FIGURES)
    totals = keras.ops.convert_to_numpy(model.get_layer("activation_regularisation").totals)
    assert totals[2] == len(batches)  # counted afresh each epoch: one epoch's steps
    assert logged[1]["activation_regularisation"] == pytest.approx(totals[0] / totals[2], rel=1e-5)
