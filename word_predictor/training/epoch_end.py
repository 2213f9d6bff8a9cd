"""The trainer's own callbacks, in the order they must run at an epoch's end."""

from __future__ import annotations

import contextlib
from pathlib import Path

from word_predictor.backend import keras
from word_predictor.config import Config
from word_predictor.training import distribute
from word_predictor.training.checkpoint import RunCheckpoint, StopOnNonFiniteLoss, TimeLimit
from word_predictor.training.distribute import Parallel
from word_predictor.training.progress import EpochProgress
from word_predictor.training.regularisation import AveragedWeights, RegularisationFigures


class TrainingCallbacks:
    """The trainer's own callbacks: stopping on a non-finite loss, early stopping, the
    learning-rate schedule, the time limit and the checkpoint that keeps the best model;
    with the regularisers, the averaged weights and the activation regularisation's figures.

    Early stopping and the time limit end a run with the best epoch's model kept (the
    checkpoint saves a model only when it validates better than every one before), so a
    run stopped by its time limit after a worse epoch ends at its best all the same.
    """

    def __init__(self, run_dir: Path, config: Config, state: dict, inference, watched: str, parallel: Parallel):
        self.early_stopping = keras.callbacks.EarlyStopping(monitor=watched, patience=config.patience, min_delta=1e-4)
        # quiet: the epoch line shows the learning rate (Keras would print it with 16 digits)
        # Keras halves once `patience` epochs in a row did not improve (0 and 1 alike), so
        # lr_patience 0 halves at each such epoch; more lets a regularised model's noisier
        # validation loss wait before the rate, and with it the epochs' progress, is cut.
        self.schedule = keras.callbacks.ReduceLROnPlateau(
            monitor=watched, factor=0.5, patience=config.lr_patience + 1, min_lr=config.learning_rate / 64, verbose=0
        )
        self.averaged = [AveragedWeights()] if config.weight_averaging else []
        self.figures = RegularisationFigures()
        self.non_finite = StopOnNonFiniteLoss()
        self.time_limit = TimeLimit(config.time_limit * 60)
        trained_weights = self.averaged[0].trained if self.averaged else contextlib.nullcontext
        self.checkpoint = RunCheckpoint(run_dir, [self.early_stopping, self.schedule], state, inference_view=inference,
                                        writes=parallel.writes, trained_weights=trained_weights)  # fmt: skip
        # Several processes: the others take process 0's validation figures and its stop decisions.
        self.follow, self.stop_together = distribute.agreement(parallel)
        self.placement = distribute.placement(parallel)  # a mesh: the variables laid out as the step returns them

    def ordered(self, validation_callbacks, shown) -> list:
        """The variables laid out on the mesh, the averaged weights in place, validation
        scores, then the figures shown and written, then what reads them."""
        return [*self.placement, *self.averaged, self.non_finite, *validation_callbacks, *self.follow, self.figures,
                *shown, EpochProgress(),
                self.early_stopping, self.schedule, self.time_limit, *self.stop_together, self.checkpoint]  # fmt: skip
