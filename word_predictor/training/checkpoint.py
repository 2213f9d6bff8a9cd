"""Callbacks that keep a run's work safe: the best model, the resume checkpoint,
and a stop on a loss that is no longer a number.

Resume needs more than weights: the optimiser's moments and learning rate (in the
compiled model file), and the counters of early stopping and of the learning-rate
schedule, which Keras resets at the start of every fit() (in state.json).
"""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path

from word_predictor import folder_files, rundir
from word_predictor.backend import keras
from word_predictor.model.factory import copy_weights
from word_predictor.training import distribute

# Callback attributes that carry over between epochs, saved and restored on resume.
_CARRIED = {
    keras.callbacks.EarlyStopping: ("wait", "best", "best_epoch"),
    keras.callbacks.ReduceLROnPlateau: ("wait", "best", "cooldown_counter"),
}


class SeedEachEpoch(keras.callbacks.Callback):
    """At each epoch's start, set every random generator of the model (dropout's masks: each
    layer's keras.random.SeedGenerator) to a state made from (the run's seed, the epoch,
    the generator's place in the model). The windows' order is made the same way
    (batches.windows.Shuffle), so an epoch draws the same numbers whether the run went
    straight through or was resumed before it, and a resume lands on the same figures.
    Put it first: a later callback may lay the variables out on a mesh."""

    def __init__(self, seed: int):
        super().__init__()
        self.seed = seed

    def on_epoch_begin(self, epoch, logs=None):
        import numpy as np

        # By place, not name: a generator's name counts those made before it in the process.
        states = [v for v in self.model.variables if v.path.endswith("seed_generator_state")]
        for place, state in enumerate(states):
            start = np.random.default_rng([self.seed, epoch, place]).integers(2**31 - 1)
            state.assign(np.array([start, 0], dtype=state.dtype))


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stop at the first batch whose loss is NaN or infinite, and remember where."""

    def __init__(self):
        super().__init__()
        self.stopped_at: tuple[int, int] | None = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.stopped_at = (self._epoch, batch)
            self.model.stop_training = True


class TimeLimit(keras.callbacks.Callback):
    """Stop after the epoch during which `seconds` of training have passed (0: no limit).

    The clock counts this fit() only, so a resumed run gets the limit afresh.
    """

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds
        self._start = 0.0

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if self.seconds and time.perf_counter() - self._start >= self.seconds:
            self.model.stop_training = True
            print(f"time limit reached after epoch {epoch + 1}")


class RunCheckpoint(keras.callbacks.Callback):
    """At each epoch end: the best model so far to model.keras, then the resume checkpoint.

    Put it after EarlyStopping and ReduceLROnPlateau in the callback list, so it
    saves their state after they have updated it, and restores it after they reset it.
    With `writes=False` (a process other than the first, training on several) it only
    restores their state, and writes nothing. `trained_weights`: a context inside which
    the model holds the weights training goes on from, for the resume checkpoint, where
    the model's weights at an epoch's end are others (averaged: training.regularisation).
    """

    def __init__(
        self, run_dir: Path | None, carried: list[keras.callbacks.Callback], state: dict,
        inference_view: keras.Model, writes: bool = True, trained_weights=contextlib.nullcontext,
    ):  # fmt: skip
        super().__init__()
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.writes = writes
        self.carried = carried
        self.state = dict(state)
        # What predict loads: open length, no optimiser, small on disk (model.build_model's inference view).
        self.inference_view = inference_view
        self.trained_weights = trained_weights

    def on_train_begin(self, logs=None):
        # Half-written files of a trainer killed mid-save: never read, now cleared.
        for folder in (self.run_dir, self.run_dir / rundir.CHECKPOINT_DIR) if self.writes else ():
            for stray in folder.glob(".*.partial*"):
                stray.unlink(missing_ok=True)
        for callback in self.carried:
            saved = self.state.get("callbacks", {}).get(type(callback).__name__, {})
            for name, value in saved.items():
                setattr(callback, name, value)

    def on_train_batch_end(self, batch, logs=None):
        self.state["global_step"] = self.state.get("global_step", 0) + 1

    def on_epoch_end(self, epoch, logs=None):
        if not self.writes:
            return
        # Keras' saving makes a scratch optimizer, whose variable, made under a distribution
        # over several processes, would wait for the others: make it on this process alone.
        with distribute.local():
            self._save(epoch, logs or {})

    def _save(self, epoch, logs):
        if not math.isfinite(float(logs.get("loss", math.nan))):
            return  # the weights may be broken: keep the last good files as they are
        val_loss = float(logs.get("val_loss", logs["loss"]))
        if val_loss < self.state.get("best_val_loss", math.inf):
            self.state.update(best_val_loss=val_loss, best_epoch=epoch)
            rundir.save_model_atomic(copy_weights(self.model, self.inference_view), self.run_dir / rundir.MODEL_FILE)
        self.state["epochs_completed"] = epoch + 1
        # EarlyStopping has had its say (it comes earlier in the list): a run it
        # ended but that was killed before finishing must not train on when resumed.
        self.state["stopped_early"] = bool(self.model.stop_training)
        self.state["callbacks"] = {
            type(c).__name__: {name: _plain(getattr(c, name)) for name in _CARRIED[type(c)]}
            for c in self.carried
        }
        folder = self.run_dir / rundir.CHECKPOINT_DIR
        folder.mkdir(exist_ok=True)
        with self.trained_weights():
            rundir.save_model_atomic(self.model, folder / rundir.CHECKPOINT_MODEL)
        # The state is written after the model it describes: a kill in between
        # leaves the previous epoch's state, and that epoch is simply trained again.
        rundir.write_json(folder / rundir.CHECKPOINT_STATE, self.state)
        rundir.write_status(self.run_dir, epochs_completed=epoch + 1)


def _plain(value):
    """A JSON-safe copy of a callback counter (numpy scalars become Python numbers)."""
    return value.item() if hasattr(value, "item") else value


def read_state(run_dir: Path) -> dict:
    """checkpoint/state.json checked (folder_files.CheckpointState), {} before the first epoch
    ended; a damaged or edited one is one line naming it (rundir.RunError)."""
    path = Path(run_dir) / rundir.CHECKPOINT_DIR / rundir.CHECKPOINT_STATE
    if not path.is_file():
        return {}
    checked = rundir.read_checked(path, lambda path: folder_files.read(path, folder_files.CheckpointState),
                                  "the resume checkpoint's state")  # fmt: skip
    return checked.model_dump(exclude_unset=True)


def check_settings_unchanged(run_dir: Path, state: dict) -> None:
    """Refuse a resume whose config.json no longer holds the settings the run began with.

    Every setting is refused, the learning rate too rather than applied: the optimiser's saved
    state and the epochs already logged belong to the old rate, and a run's config.json must
    describe all of its epochs. A different setting is a new run."""
    recorded = state.get("settings")
    if recorded is None:  # no epoch completed (or an older run): load_config's hash still checks it
        return
    path = run_dir / rundir.CONFIG_FILE
    config_file = rundir.read_checked(path, lambda path: folder_files.read(path, folder_files.ConfigFile),
                                      "the settings")  # fmt: skip
    changed = config_file.changed_from(recorded)
    if changed:
        raise rundir.RunError(
            f"{path} was changed since run {run_dir} began ({'; '.join(changed)}); a resume continues with the "
            "settings it began with: restore them, or train a new run with the new ones"
        )
