"""Data parallel training over several devices and processes, on keras.distribution (JAX only).

    one host, two devices:  train --backend jax --devices 2
    two hosts:              train --backend jax --devices all --coordinator 10.0.0.1:1234 \
                                  --num-processes 2 --process-id 0      (1 on the other host)

Every weight is replicated on every device; each global batch (windows, or lanes) is split
by rows along the mesh's one axis, "batch", and so is a full-context model's carried state
(one row per lane): the LayoutMap lays it out ("batch", None). Keras' DataParallel would
replicate it, giving every device every lane's state. XLA averages the gradients over the
devices (the all-reduce that jit's shardings imply), so a step computes the loss of the
whole global batch, as one device would:

    global batch (B rows)   process 0               process 1
                            device 0    device 1    device 2    device 3
    rows (lanes)            [0, B/4)    [B/4, B/2)  [B/2, 3B/4) [3B/4, B)

Each process gathers only its own rows of each batch from the memory-mapped token store
(auto_shard_dataset is off: Keras cannot split a PyDataset itself). Every process builds
the corpus the same way (process 0 first, the others after it, from its cache when they
share the logdir) and they compare its hash through a collective. Process 0 alone writes
the run folder, TensorBoard and checkpoints, and scores a full-context validation split;
at each epoch end it broadcasts the validation figures and whether to stop, so every
process takes the same decisions (learning rate, early stopping, time limit).
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass

import numpy as np

from word_predictor.backend import keras
from word_predictor.errors import UsageError, UserError
from word_predictor.training import cluster
from word_predictor.training.run_corpus import corpus_for

BATCH_AXIS = "batch"
STATE_WEIGHTS = r".*/state_\d+$"  # model.CarriedRNN's carried state, (lanes, units) each
# The epoch-end figures process 0 decides on; the others take its values.
SHARED_FIGURES = ("val_loss", "val_accuracy", "val_top5_accuracy")


@dataclass(frozen=True)
class Parallel:
    """Where training runs: this process's place among `process_count`, and the mesh's
    devices (every process's, in process order); no devices: the plain one-device path."""

    process_id: int = 0
    process_count: int = 1
    devices: tuple = ()

    @property
    def distributed(self) -> bool:
        return bool(self.devices)

    @property
    def device_count(self) -> int:
        return max(1, len(self.devices))

    @property
    def writes(self) -> bool:
        """Only process 0 writes the run folder."""
        return self.process_id == 0

    def rows(self, batch_size: int) -> slice:
        """The rows of each global batch this process feeds (its devices' rows)."""
        share = batch_size // self.process_count
        return slice(self.process_id * share, (self.process_id + 1) * share)


SINGLE = Parallel()


def start(devices: int | str, coordinator: str | None = None, num_processes: int | None = None,
          process_id: int | None = None, timeout: float = cluster.DEFAULT_TIMEOUT) -> Parallel:  # fmt: skip
    """Join the cluster (when `coordinator` is given, waiting at most `timeout` seconds:
    cluster.join) and pick `devices` local devices (an int, or "all") in every process.
    Raises ValueError with a plain message, or cluster.JoinError."""
    if keras.backend.backend() != "jax":
        raise ValueError(f"training on several devices needs the JAX backend, not {keras.backend.backend()}")
    if coordinator is not None:
        # keras.distribution.initialize, with a bounded wait that signals end
        cluster.join(coordinator, num_processes, process_id, timeout)
    import jax

    local = jax.local_devices()
    wanted = len(local) if devices == "all" else int(devices)
    if wanted > len(local):
        platform = local[0].platform
        hint = " (on a CPU, JAX_NUM_CPU_DEVICES=N makes N virtual devices)" if platform == "cpu" else ""
        raise ValueError(f"{wanted} devices asked for, but this process has {len(local)} {platform} device(s){hint}")
    chosen = []
    for process in range(jax.process_count()):
        own = sorted((d for d in jax.devices() if d.process_index == process), key=lambda d: d.id)
        chosen += own[:wanted]
    return Parallel(jax.process_index(), jax.process_count(), tuple(chosen))


def check_batch(batch_size: int, parallel: Parallel) -> None:
    if batch_size % parallel.device_count:
        raise ValueError(
            f"a batch of {batch_size} does not split evenly over {parallel.device_count} devices; "
            f"use a multiple of {parallel.device_count}"
        )


def distribution(parallel: Parallel):
    """Weights replicated, batches and carried states split by rows (see the module docstring)."""
    mesh = keras.distribution.DeviceMesh((len(parallel.devices),), [BATCH_AXIS], list(parallel.devices))
    layout = keras.distribution.LayoutMap(mesh)
    layout[STATE_WEIGHTS] = (BATCH_AXIS, None)
    return keras.distribution.ModelParallel(layout_map=layout, batch_dim_name=BATCH_AXIS, auto_shard_dataset=False)


@contextlib.contextmanager
def scope(parallel: Parallel):
    """Models made, and fit() run, inside are distributed as `parallel` says."""
    if not parallel.distributed:
        yield
        return
    with distribution(parallel).scope():
        yield


@contextlib.contextmanager
def local():
    """Models made inside live on this process's default device alone: the inference
    views (validation, samples, the saved model) that process 0 runs without the others."""
    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(previous)


class ProcessBatches(keras.utils.PyDataset):
    """This process's rows of every whole global batch of `batches` (windows or lanes):
    a batch class's `part(index, rows)` gathers only those rows from the store."""

    def __init__(self, batches, parallel: Parallel):
        super().__init__()
        self.batches = batches
        self.row_range = parallel.rows(batches.batch_size)
        self.examples_per_epoch = batches.examples_per_epoch
        self.targets_per_epoch = batches.targets_per_epoch

    def __len__(self) -> int:
        return self.batches.whole_batches

    def __getitem__(self, index: int):
        return self.batches.part(index, self.row_range)

    def on_epoch_end(self):
        self.batches.on_epoch_end()


def feed(batches, parallel: Parallel):
    """The batches this process gives fit(): all of them on the plain path."""
    return ProcessBatches(batches, parallel) if parallel.distributed and batches is not None else batches


class OnTheMesh(keras.callbacks.Callback):
    """Lays every variable's value out on the mesh before the steps read it, as the sharded
    step returns it: jit compiles once per set of input shardings, and on a one-device mesh
    Keras keeps a value it assigns (fresh weights, metrics reset to zero at each epoch's and
    each evaluation's start) on the device, a sharding equivalent to the mesh's but not
    equal, so the step compiled again in the first two epochs and each validation."""

    def on_epoch_begin(self, epoch, logs=None):  # fit resets the metrics just before
        self._place()

    def on_test_batch_begin(self, batch, logs=None):
        if batch == 0:  # evaluate resets the metrics after on_test_begin
            self._place()

    def _place(self) -> None:
        import jax

        distribution = keras.distribution.distribution()
        optimizer = getattr(self.model, "optimizer", None)
        for variable in [*self.model.variables, *(optimizer.variables if optimizer else []),
                         *self.model.metrics_variables]:  # fmt: skip
            layout = distribution.get_variable_layout(variable)
            sharding = getattr(layout, "backend_layout", layout)
            if variable.value.sharding != sharding:
                variable.assign(jax.device_put(variable.value, sharding))


def placement(parallel: Parallel) -> list:
    """The callbacks fit() needs on a mesh (before any that times the steps' epochs)."""
    return [OnTheMesh()] if parallel.distributed else []


class FollowProcessZero(keras.callbacks.Callback):
    """Every process takes process 0's validation figures, which it alone may have scored."""

    def on_epoch_end(self, epoch, logs=None):
        from jax.experimental import multihost_utils

        if logs is None:
            return
        mine = np.array([float(logs.get(name, np.nan)) for name in SHARED_FIGURES])
        for name, value in zip(SHARED_FIGURES, multihost_utils.broadcast_one_to_all(mine)):
            if np.isfinite(value):
                logs[name] = float(value)


class StopTogether(keras.callbacks.Callback):
    """Every process stops when process 0 does (its clock decides the time limit)."""

    def on_epoch_end(self, epoch, logs=None):
        from jax.experimental import multihost_utils

        stop = multihost_utils.broadcast_one_to_all(np.array([bool(self.model.stop_training)]))
        self.model.stop_training = bool(stop[0])


def agreement(parallel: Parallel) -> tuple[list, list]:
    """(callbacks to put before the ones that read validation figures, callbacks to put
    after every one that may stop training); none for one process."""
    if parallel.process_count == 1:
        return [], []
    return [FollowProcessZero()], [StopTogether()]


def wait_for_others(parallel: Parallel, name: str) -> None:
    if parallel.process_count > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def corpus_digest(corpus) -> bytes:
    """SHA-256 of the vocabulary and of every split's segments and ids, read in slices."""
    digest = hashlib.sha256(corpus.vocabulary.to_json().encode())
    for name in sorted(corpus.splits):
        split = corpus.splits[name]
        digest.update(name.encode() + np.ascontiguousarray(split.bounds, np.int64).tobytes())
        for start, end in np.asarray(split.bounds, np.int64).reshape(-1, 2):
            for begin in range(int(start), int(end), 1 << 24):
                digest.update(np.ascontiguousarray(split.ids[begin : min(int(end), begin + (1 << 24))]).tobytes())
    return digest.digest()


def check_same_corpus(corpus, parallel: Parallel) -> None:
    """ValueError unless every process read the same vocabulary and token ids."""
    if parallel.process_count == 1:
        return
    from jax.experimental import multihost_utils

    mine = np.frombuffer(corpus_digest(corpus), np.uint8)
    every = np.asarray(multihost_utils.process_allgather(mine)).reshape(parallel.process_count, -1)
    differ = [p for p in range(parallel.process_count) if not np.array_equal(every[p], every[0])]
    if differ:
        raise ValueError(
            f"process(es) {', '.join(map(str, differ))} read a different corpus or vocabulary than process 0; "
            "give every process the same files at the same paths"
        )


def shared_corpus(config, cache_dir, parallel: Parallel, normalisation_version: int | None = None, context=None):
    """The corpus, read by process 0 first (it fills the cache), then by the others, who
    read that cache where they share the logdir; all then check they hold the same."""
    corpus = corpus_for(config, cache_dir, normalisation_version, context) if parallel.writes else None
    wait_for_others(parallel, "corpus read by process 0")
    corpus = corpus or corpus_for(config, cache_dir, normalisation_version, context)
    try:
        check_same_corpus(corpus, parallel)
    except ValueError as error:
        raise UserError(str(error)) from None
    return corpus


def check_resumable(parallel: Parallel, config) -> None:
    """A run resumed on several devices: its batch must divide, and it may not log histograms."""
    try:
        check_batch(config.batch_size, parallel)
    except ValueError as error:
        raise UsageError(f"--devices: the run's {error}") from None
    if parallel.distributed and config.histograms:
        raise UsageError("the run logs --histograms, read on one device; resume it without --devices or "
                         "--coordinator")  # fmt: skip


def devices_text(on_gpu: bool, parallel: Parallel) -> str:
    """Where training runs, for the line that starts it: "the CPU", "4 GPU devices in 2 processes"."""
    kind = "GPU" if on_gpu else "CPU"
    if not parallel.distributed:
        return f"the {kind}"
    processes = f" in {parallel.process_count} processes" if parallel.process_count > 1 else ""
    return f"{parallel.device_count} {kind} devices{processes}"
