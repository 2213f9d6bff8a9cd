"""Train a run: corpus -> batches -> fit -> a complete run folder. No argparse here.

    corpus/ --read, split, vocabulary--> context batches --fit--> logs/RUN/
                                         (windows or lanes)     callbacks: TensorBoard figures,
                                                                samples, early stopping,
                                                                learning-rate schedule, best
                                                                model and resume checkpoint
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from word_predictor import backend, monitoring, rundir
from word_predictor.backend import gpu_available, keras
from word_predictor.batches import context_for
from word_predictor.config import Config, CorpusFacts, SettingError, config_json, load_config
from word_predictor.corpus.splits import Corpus
from word_predictor.errors import Interrupted, UserError
from word_predictor.model.factory import build_model, copy_weights
from word_predictor.model.compile import compile_model
from word_predictor.monitoring.samples import sample_prompts, samples_markdown
from word_predictor.predictor.predictor import Predictor
from word_predictor.text.vocabulary import Vocabulary, sha256_of
from word_predictor.training import distribute
from word_predictor.training.epoch_end import TrainingCallbacks
from word_predictor.training.checkpoint import SeedEachEpoch, check_settings_unchanged, read_state
from word_predictor.training.distribute import SINGLE, Parallel
from word_predictor.training.finish import finish
from word_predictor.training.origin import Origin, origin_of
from word_predictor.training.memory import check_memory, out_of_memory_said
from word_predictor.training.timing import TimedBatches
from word_predictor.training.run_corpus import CACHE_DIR, corpus_for, corpus_in_vocabulary
from word_predictor.training.validation import validation_for


class TrainingInterrupted(Interrupted):
    """Ctrl-C during training (the command turns SIGTERM and SIGHUP into it too): the
    completed epochs of `run_dir` are kept, and the command says how to resume it."""

    def __init__(self, run_dir: Path):
        super().__init__(f"the completed epochs of {run_dir} are kept; resume the run to continue")
        self.run_dir = run_dir


def train_new(
    config: Config,
    logdir: Path,
    run_name: str | None,
    command_line: str,
    use_cache: bool = True,
    steps_per_epoch: int | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    parallel: Parallel = SINGLE,
    origin: Origin | None = None,
) -> Path | None:
    """Read the corpus, create the run folder and train; returns the run folder.

    `steps_per_epoch` cuts every epoch to that many batches (validation is scored whole):
    for benchmarks that need the whole path on a large corpus in little time.
    `callbacks` run before the trainer's own, every epoch (a test's or a benchmark's).
    `parallel` says where to train (training.distribute); a process other than the
    first writes no run folder, and returns None. `origin`: the trained run this one begins
    from (training.origin: its vocabulary reads the corpus, its kept weights are the first).
    """
    if parallel.writes:
        rundir.make_logdir(logdir)  # before reading the corpus: a bad --logdir fails at once
        backend.use_compilation_cache(Path(logdir) / CACHE_DIR / "jax")
    context = context_for(config)  # the run's one context, passed down
    corpus = _read_corpus(config, context, Path(logdir) / CACHE_DIR if use_cache else None, parallel,
                          origin.vocabulary if origin else None)  # fmt: skip
    context.check_training_split(corpus.splits["train"])  # SettingError: the command names the flag
    check_memory(config, corpus.facts)  # before anything is written
    start = origin.model() if origin else None
    if not parallel.writes:
        _fit(None, context, corpus, command_line, {}, None, steps_per_epoch, callbacks, parallel, start)
        return None
    run_dir = rundir.create_run_dir(logdir, run_name or time.strftime(f"%Y%m%d-%H%M%S-{config.cell}"))
    with rundir.locked(run_dir), _resumable(run_dir):
        with _removed_unless_written(run_dir):
            rundir.write_status(run_dir, complete=False, started=time.time(), epochs_completed=0)
            rundir.write_atomic(run_dir / rundir.VOCABULARY_FILE, corpus.vocabulary.to_json())
            provenance = dict(command_line=command_line, vocabulary_sha256=sha256_of(run_dir / rundir.VOCABULARY_FILE),
                              files=corpus.files, versions=backend.versions())  # fmt: skip
            provenance |= {"from_run": origin.record} if origin else {}
            rundir.write_atomic(run_dir / rundir.CONFIG_FILE, config_json(config, corpus.facts, **provenance))
        _write_test_split(run_dir, corpus)
        # The settings ride in the resume checkpoint too, so a resume names any changed since.
        _fit(run_dir, context, corpus, command_line, {"settings": config.to_dict()}, None, steps_per_epoch,
             callbacks, parallel, start)  # fmt: skip
    return run_dir


def resume(
    run_dir: Path, use_cache: bool = True, callbacks: Sequence[keras.callbacks.Callback] = (),
    parallel: Parallel = SINGLE,
) -> Path:
    """Continue an interrupted run from its last completed epoch, with its own settings: one
    changed in config.json since, the learning rate included, is refused by name
    (checkpoint.check_settings_unchanged). Every process of a run on several reads the run
    folder; process 0 alone writes it."""
    if not run_dir.exists():
        raise rundir.RunSettingError("{path} does not exist; pass the run folder to continue, e.g. {resume} logs/RUN",
                                     path=run_dir)
    if not (run_dir / rundir.CONFIG_FILE).is_file():
        raise rundir.RunError(f"{run_dir} is not a run folder to resume (no {rundir.CONFIG_FILE})")
    if rundir.is_complete(run_dir):
        raise rundir.RunError(f"run {run_dir} is already complete; start a new run instead")
    with rundir.locked(run_dir) if parallel.writes else contextlib.nullcontext(), _resumable(run_dir):
        state = read_state(run_dir)  # a damaged one is one line, before anything is read
        check_settings_unchanged(run_dir, state)
        config, provenance = rundir.read_checked(run_dir / rundir.CONFIG_FILE, load_config, "the settings")
        rundir.check_vocabulary_file(run_dir, provenance)
        distribute.check_resumable(parallel, config)
        if parallel.writes:
            backend.use_compilation_cache(run_dir.parent / CACHE_DIR / "jax")
        begun_with = rundir.read_checked(run_dir / rundir.VOCABULARY_FILE, Vocabulary.load, "the vocabulary")
        context = context_for(config)  # the run's one context, passed down
        origin = origin_of(run_dir, provenance, begun_with)  # None: a run begun afresh, not --from another
        corpus = _read_corpus(config, context, run_dir.parent / CACHE_DIR if use_cache else None, parallel,
                              begun_with if origin else None, begun_with.normalisation_version)  # the rule it began with
        if corpus.vocabulary != begun_with:
            raise rundir.RunError(f"the corpus changed since run {run_dir} started, so it cannot be resumed")
        if parallel.writes:
            _write_test_split(run_dir, corpus)  # an interruption may have come before it was written
        model = None
        if state:
            with distribute.scope(parallel):  # laid out on the devices, as a new model would be
                model = rundir.load_model(run_dir / rundir.CHECKPOINT_DIR / rundir.CHECKPOINT_MODEL, compile=True)
            print(f"resuming {run_dir} after epoch {state['epochs_completed']}")
        else:
            print(f"resuming {run_dir}: no epoch was completed before it stopped, so training restarts at epoch 1")
        if parallel.writes:
            monitoring.truncate_events(run_dir, state.get("epochs_completed", 0), state.get("global_step", 0))
        start = origin.model() if origin and not state else None  # no epoch kept: begin again from the origin
        _fit(run_dir, context, corpus, provenance.get("command_line", ""), state, model, None, callbacks, parallel,
             start)  # fmt: skip
    return run_dir


def _read_corpus(config, context, cache_dir, parallel: Parallel, vocabulary: Vocabulary | None = None,
                 normalisation_version: int | None = None) -> Corpus:  # fmt: skip
    """The run's corpus: read in `vocabulary` for a run from another (train --from); read by
    process 0 first, then checked alike in every process, on several (training.distribute);
    else read here, through the cache."""
    if vocabulary is not None:
        return corpus_in_vocabulary(config, vocabulary, context)
    if parallel.process_count > 1:
        return distribute.shared_corpus(config, cache_dir, parallel, normalisation_version, context)
    return corpus_for(config, cache_dir, normalisation_version, context)


def _write_test_split(run_dir: Path, corpus: Corpus) -> None:
    if not (run_dir / rundir.TEST_SPLIT_FILE).is_file():
        rundir.write_test_split(run_dir, corpus.splits["test"])


@contextlib.contextmanager
def _removed_unless_written(run_dir: Path):
    """The run's first files: if writing them fails (a full disk) or is interrupted before
    its settings are in place, the folder is removed, so no run is left that --resume
    cannot continue."""
    try:
        yield
    except BaseException as error:
        if (run_dir / rundir.CONFIG_FILE).is_file():
            raise
        shutil.rmtree(run_dir, ignore_errors=True)
        if isinstance(error, KeyboardInterrupt):
            raise Interrupted(f"before run {run_dir} was written, so nothing was kept; run the same command "
                              "again") from None
        raise


@contextlib.contextmanager
def _resumable(run_dir: Path):
    """Ctrl-C during training says how to continue the run from its last completed epoch."""
    try:
        yield
    except KeyboardInterrupt:
        raise TrainingInterrupted(run_dir) from None


class NonFiniteLoss(UserError, SettingError):
    """The loss became NaN or infinite; what is kept, and the settings that would help."""


def _fit(run_dir, context, corpus, command_line, state, model, steps_per_epoch=None, callbacks=(), parallel=SINGLE,
         start=None):  # fmt: skip
    previous = keras.mixed_precision.dtype_policy().name
    try:
        with distribute.scope(parallel):
            _fit_with_policy(run_dir, context, corpus, command_line, state, model, steps_per_epoch, callbacks, parallel,
                             start)  # fmt: skip
    finally:
        keras.mixed_precision.set_dtype_policy(previous)  # Keras' policy is global: leave it as found


def _fit_with_policy(run_dir, context, corpus, command_line, state, model, steps_per_epoch, callbacks, parallel, start):
    config = context.config
    initial_epoch = state.get("epochs_completed", 0)
    keras.utils.set_random_seed(config.seed + initial_epoch)
    on_gpu = gpu_available()
    backend.apply_precision(config.precision)  # before any layer is made
    use_cudnn = backend.use_cudnn(config.precision)
    facts = corpus.facts  # what the model's shape takes from the corpus
    if model is None:
        model = context.training_model(facts, on_gpu, use_cudnn)
        compile_model(model, config)
        if start is not None:  # a run continued from a trained one (train --from): its kept weights first
            copy_weights(start, model)
    batches = context.training_batches(corpus.splits["train"], epoch=initial_epoch)
    train_batches = TimedBatches(distribute.feed(batches, parallel))  # this process's rows of each batch
    with distribute.local():  # the view predict uses; the checkpoint refreshes it each epoch
        inference = build_model(config, facts, use_cudnn=use_cudnn)
    # One reader of it for the whole run: validation, the samples and the test split share
    # what it traces and compiles (a small corpus's run is mostly such fixed costs).
    reader = context.reader(inference)
    validation_callbacks = validation_for(context, corpus.splits["validation"], reader)
    watched = "val_loss" if validation_callbacks else "loss"
    own = TrainingCallbacks(run_dir, config, state, inference, watched=watched, parallel=parallel)
    shown, prompts = [], []
    if parallel.writes:
        shown, prompts = _monitoring(run_dir, config, corpus, model, reader, batches, train_batches, state,
                                     command_line)  # fmt: skip
    else:
        validation_callbacks = []  # process 0 scores the validation split, and shares the figures
    if initial_epoch < config.epochs and not state.get("stopped_early"):
        if parallel.writes:
            _announce(run_dir, config, facts, batches, distribute.devices_text(on_gpu, parallel))
        with out_of_memory_said():
            model.fit(
                train_batches,
                epochs=config.epochs,
                initial_epoch=initial_epoch,
                callbacks=[SeedEachEpoch(config.seed), *callbacks, *own.ordered(validation_callbacks, shown)],
                verbose=0,  # EpochProgress prints shorter lines, and progress without a terminal too
                # The batches hold windows already shuffled by (seed, epoch); Keras would shuffle
                # their order again with Python's global random state, which a resume cannot restore.
                shuffle=False,
                steps_per_epoch=steps_per_epoch and min(steps_per_epoch, len(train_batches)),
            )
    if parallel.writes:
        with distribute.local():  # the saved model, scored by this process alone
            _after_fit(run_dir, config, corpus, own, prompts, reader)


def _monitoring(run_dir, config, corpus, model, reader, batches, train_batches, state, command_line):
    """(The TensorBoard callbacks, the sample prompts) of the process that writes the run."""
    if state.get("epochs_completed", 0) == 0:
        monitoring.write_run_description(run_dir, config, corpus.facts, model, command_line)
    prompts = sample_prompts(config, corpus.splits["validation"], corpus.vocabulary)

    def samples(trained):
        copy_weights(trained, reader.model)
        return samples_markdown(Predictor(reader, config, corpus.vocabulary), prompts)

    shown = monitoring.callbacks(
        run_dir,
        config,
        samples=samples,
        targets_per_epoch=batches.targets_per_epoch,
        examples_per_epoch=batches.examples_per_epoch,
        first_step=state.get("global_step", 0),
        gradient_batch=batches[0] if config.histograms else None,
        input_seconds=lambda: train_batches.seconds,
    )
    return shown, prompts


def _announce(run_dir: Path, config: Config, facts: CorpusFacts, batches, devices: str) -> None:
    print(
        f"training {config.cell}{' (bidirectional)' if config.bidirectional else ''} on {devices} "
        f"({config.context} context): {batches.targets_per_epoch:,} targets per epoch, "
        f"vocabulary {facts.vocabulary_size:,}, run {run_dir}"
    )


def _after_fit(run_dir: Path, config: Config, corpus: Corpus, own: TrainingCallbacks, prompts: list[str],
               reader) -> None:
    if not (run_dir / rundir.MODEL_FILE).is_file():
        rundir.write_status(run_dir, stopped="non-finite loss")
        raise NonFiniteLoss(
            "the loss became NaN or infinite before the first epoch ended, so there is no model to keep; "
            "lower {learning_rate} or {clip_norm}"
        )
    stopped_at = own.non_finite.stopped_at
    finish(run_dir, config, corpus, own.checkpoint.state, stopped_at=stopped_at, prompts=prompts, reader=reader)
    if stopped_at:
        raise NonFiniteLoss(
            "training stopped in epoch {epoch}, batch {batch}: the loss became NaN or infinite. "
            "The best model so far (epoch {best}) is kept in {run_dir}; lower {learning_rate} or {clip_norm} to "
            "train further", epoch=stopped_at[0] + 1, batch=stopped_at[1] + 1,
            best=own.checkpoint.state["best_epoch"] + 1, run_dir=run_dir,
        )

