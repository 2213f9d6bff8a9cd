"""What a run shows in TensorBoard while it trains, as Keras callbacks the trainer adds to fit().

    EpochFigures      adds perplexity, seconds, throughput, learning rate and the input/step
                      split of the epoch's time to the epoch's logs
    EpochScalars      writes every figure of the epoch's logs: RUN/train, and RUN/validation
                      for the val_ ones, as epoch_<name> at the epoch (from 0)
    BatchLoss         RUN/train batch_loss every --log-every steps, at the global step
    WeightHistograms  RUN/train <weight>/histogram each epoch (--histograms)
    GradientNorms     RUN/train gradients/<weight> histograms and gradient_norm/* scalars on
                      one fixed batch each epoch (--histograms), on each backend its own way
    PredictionSamples RUN/samples next_word_predictions: the trainer's tables at each epoch end

They replace Keras' TensorBoard callback, which writes through TensorFlow; these write
through writer.py on every backend. Callbacks that share a folder share its file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


from word_predictor.backend import keras
from word_predictor.config import Config
from word_predictor.monitoring.gradients import GradientNorms
from word_predictor.monitoring.writer import RunWriters, WritingCallback
from word_predictor.scoring.figures import perplexity

SAMPLES_TAG = "next_word_predictions"
SAMPLES_FOLDER = "samples"


def epoch_label(epoch: int) -> str:
    """The heading of an epoch's samples table (epochs counted from 1, as Keras prints them)."""
    return f"**epoch {epoch + 1}**"


class EpochFigures(keras.callbacks.Callback):
    """Adds figures to each epoch's logs, for EpochScalars (and Keras' progress line) to show.

        perplexity, val_perplexity   exp(loss)
        learning_rate                the optimiser's rate during the epoch
        seconds                      the whole epoch, validation included
        validation_seconds           its validation part: from Keras' evaluation's start, or
                                     as logged by a callback that scored it (ScoredValidation)
        targets_per_second           training targets / seconds of the training part
        input_seconds, step_seconds  the training part split into time spent producing
                                     batches (from `input_seconds`, a cumulative clock) and
                                     the rest; only when that clock is given

    The training part runs from the epoch's start to the start of validation. Put it
    before EpochScalars, and before ReduceLROnPlateau, which changes the rate.
    """

    def __init__(self, targets_per_epoch: int, input_seconds: Callable[[], float] | None = None):
        super().__init__()
        self.targets_per_epoch = targets_per_epoch
        self.input_seconds = input_seconds
        self._start = 0.0
        self._input_start = 0.0
        self._training_end: tuple[float, float] | None = None  # (clock, input clock)

    def _input_clock(self) -> float:
        return float(self.input_seconds()) if self.input_seconds else 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._training_end = None
        self._input_start = self._input_clock()
        self._start = time.perf_counter()

    def on_test_begin(self, logs=None):
        if self._training_end is None:
            self._training_end = (time.perf_counter(), self._input_clock())

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        end = time.perf_counter()
        if self._training_end is None:  # no Keras validation: a callback may have scored it (its seconds logged)
            self._training_end = (end - float(logs.get("validation_seconds", 0.0)), self._input_clock())
        training_end, input_end = self._training_end
        training_seconds = training_end - self._start
        logs["validation_seconds"] = end - training_end
        for prefix in ("", "val_"):
            if f"{prefix}loss" in logs:
                logs[f"{prefix}perplexity"] = perplexity(logs[f"{prefix}loss"])
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        logs["seconds"] = end - self._start
        logs["targets_per_second"] = self.targets_per_epoch / training_seconds if training_seconds else 0.0
        if self.input_seconds:
            waited = input_end - self._input_start
            logs["input_seconds"] = waited
            logs["step_seconds"] = max(training_seconds - waited, 0.0)


class EpochScalars(WritingCallback):
    """Every number in the epoch's logs as a scalar: `loss` -> train/epoch_loss,
    `val_loss` -> validation/epoch_loss, at the epoch. Flushes, so that the figures of
    an epoch are on disk before the resume checkpoint (later in the list) says it is done."""

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue  # not a figure
            folder, name = ("validation", key[len("val_") :]) if key.startswith("val_") else ("train", key)
            self.writers[folder].scalar(f"epoch_{name}", number, step=epoch)
        self.writers.flush()


class BatchLoss(WritingCallback):
    """The loss of single training batches, every `every` steps, at the global step.

    Keras hands batch callbacks the epoch's running mean of the loss, weighted by
    each batch's windows, so logging it as is would draw a sawtooth of epoch
    averages. Two consecutive means give the batch's own loss back:

        mean_k = (seen_k-1 * mean_k-1 + size_k * loss_k) / seen_k
        loss_k = (seen_k * mean_k - seen_k-1 * mean_k-1) / size_k

    (exact up to float32 rounding of the means: about 1e-7 x k, far below the
    batch-to-batch noise). Every batch holds `batch_size` examples but an epoch's
    last, which holds the rest of `examples_per_epoch`.
    """

    def __init__(
        self, writers: RunWriters, every: int, first_step: int, batch_size: int, examples_per_epoch: int
    ):
        super().__init__(writers)
        self.every = every
        self.step = first_step
        self.batch_size = batch_size
        self.examples_per_epoch = examples_per_epoch
        self._previous_mean = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._previous_mean = 0.0  # Keras resets its running mean at each epoch

    def _seen(self, batches: int) -> int:
        return min(batches * self.batch_size, self.examples_per_epoch)

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if not logs or "loss" not in logs:
            return
        mean = float(logs["loss"])
        seen_before, seen = self._seen(batch), self._seen(batch + 1)
        loss = (seen * mean - seen_before * self._previous_mean) / max(seen - seen_before, 1)
        self._previous_mean = mean
        if self.every and self.step % self.every == 0:
            self.writers["train"].scalar("batch_loss", loss, step=self.step)


class WeightHistograms(WritingCallback):
    """A histogram of every weight at each epoch end: train/<weight path>/histogram."""

    def on_epoch_end(self, epoch, logs=None):
        for weight in self.model.weights:
            values = keras.ops.convert_to_numpy(weight.value)
            self.writers["train"].histogram(f"{weight.path}/histogram", values, step=epoch)
        self.writers.flush()


class PredictionSamples(WritingCallback):
    """At each epoch end, `samples(model)` (a markdown table the trainer makes) as text,
    headed by the epoch it comes from: samples/next_word_predictions at the epoch."""

    def __init__(self, writers: RunWriters, samples: Callable[[keras.Model], str]):
        super().__init__(writers)
        self.samples = samples

    def on_epoch_end(self, epoch, logs=None):
        table = self.samples(self.model)
        self.writers[SAMPLES_FOLDER].text(SAMPLES_TAG, f"{epoch_label(epoch)}\n\n{table}", step=epoch)
        self.writers.flush()


def callbacks(
    run_dir: Path,
    config: Config,
    *,
    samples: Callable[[keras.Model], str],
    targets_per_epoch: int,
    first_step: int,
    examples_per_epoch: int,
    gradient_batch=None,
    input_seconds: Callable[[], float] | None = None,
) -> list[keras.callbacks.Callback]:
    """The monitoring callbacks for one fit(), in the order they must run.

    `samples(model)` returns the markdown table shown at each epoch end;
    `examples_per_epoch` is the number of training examples in an epoch (for
    BatchLoss); `first_step` the global step the run has reached (0, or where a
    resume continues); `gradient_batch` one training batch, for --histograms;
    `input_seconds()` the seconds spent producing batches so far.
    """
    writers = RunWriters(run_dir)
    result = [
        EpochFigures(targets_per_epoch, input_seconds),
        EpochScalars(writers),
        BatchLoss(writers, config.log_every, first_step, config.batch_size, examples_per_epoch),
        PredictionSamples(writers, samples),
    ]
    if config.histograms:
        result.append(WeightHistograms(writers))
        if gradient_batch is not None:
            result.append(GradientNorms(writers, gradient_batch))
    return result
