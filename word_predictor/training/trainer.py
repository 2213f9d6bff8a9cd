"""Train a run: corpus -> batches -> fit -> a complete run folder. No argparse here.

    corpus/ --read, split, vocabulary--> context batches --fit--> logs/RUN/
                                         (windows or lanes)     callbacks: TensorBoard figures,
                                                                samples, early stopping,
                                                                learning-rate schedule, best
                                                                model and resume checkpoint
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import time
from pathlib import Path

from word_predictor import backend, monitoring, rundir
from word_predictor.backend import gpu_available, keras
from word_predictor.batches import context_for
from word_predictor.config import DEFAULT_PROMPT, HELD_OUT_SPLITS, Config, config_json, load_config
from word_predictor.corpus.build import build_corpus, encode_files
from word_predictor.corpus.files import find_text_files
from word_predictor.corpus.splits import Corpus
from word_predictor.errors import Interrupted, UsageError, UserError
from word_predictor.model.build import build_model, copy_weights
from word_predictor.model.compile import compile_model
from word_predictor.monitoring.samples import sample_prompts, samples_markdown
from word_predictor.predictor.predictor import Predictor
from word_predictor.scoring.evaluate import NothingToScore, format_scores, score_run
from word_predictor.text.tokenizer import tokenizer_for
from word_predictor.text.vocabulary import Vocabulary, sha256_of
from word_predictor.training import distribute
from word_predictor.training.checkpoint import RunCheckpoint, StopOnNonFiniteLoss, TimeLimit, read_state
from word_predictor.training.distribute import SINGLE, Parallel
from word_predictor.training.progress import EpochProgress, ProgressBar
from word_predictor.training.validation import validation_for

CACHE_DIR = ".cache"  # under the logdir: the token ids of corpora already read


def corpus_for(config: Config, cache_dir: Path | None = None) -> Corpus:
    """The corpus read and split as `config` says; --validation-text and --test-text, when
    given, are those splits (one segment per file, in the corpus' vocabulary)."""
    context = context_for(config)
    held_out = _held_out_files(config)  # checked before the (maybe long) read of the corpus
    corpus = build_corpus(
        config.corpus,
        tokenizer=tokenizer_for(config.level, config.normalisation),
        min_tokens=context.min_tokens,
        block_size=context.block_size,
        unknown_threshold=config.unknown_threshold,
        max_vocabulary=config.max_vocabulary,
        validation_fraction=config.validation_fraction,
        test_fraction=config.test_fraction,
        encoding_errors=config.encoding_errors,
        cache_dir=cache_dir,
        progress=ProgressBar(),
    )
    for split, files in held_out.items():
        corpus.splits[split] = encode_files(files, corpus.vocabulary, config.encoding_errors, flag=f"--{split}-text")
    return corpus


def _held_out_files(config: Config) -> dict[str, list[Path]]:
    """{split: its files} for the held-out splits given as texts, none of them in the corpus."""
    given = {split: getattr(config, f"{split}_text") for split in HELD_OUT_SPLITS}
    held_out = {split: find_text_files(texts, flag=f"--{split}-text") for split, texts in given.items() if texts}
    if held_out:
        trained_on = {os.path.realpath(path) for path in find_text_files(config.corpus)}
        for split, files in held_out.items():
            for path in files:
                if os.path.realpath(path) in trained_on:
                    raise UsageError(f"{path} is in the --corpus too, so the model would train on its "
                                     f"--{split}-text; pass the training files alone as --corpus")
    return held_out


def train_new(
    config: Config,
    logdir: Path,
    run_name: str | None,
    command_line: str,
    use_cache: bool = True,
    steps_per_epoch: int | None = None,
    parallel: Parallel = SINGLE,
) -> Path | None:
    """Read the corpus, create the run folder and train; returns the run folder.

    `steps_per_epoch` cuts every epoch (and a window run's validation) to that many
    batches: for benchmarks that need the whole path on a large corpus in little time.
    `parallel` says where to train (training.distribute); a process other than the
    first writes no run folder, and returns None.
    """
    if parallel.writes:
        rundir.make_logdir(logdir)  # before reading the corpus: a bad --logdir fails at once
        backend.use_compilation_cache(Path(logdir) / CACHE_DIR / "jax")
    corpus = _shared_corpus(config, Path(logdir) / CACHE_DIR if use_cache else None, parallel)
    try:
        context_for(config).check_training_split(corpus.splits["train"])
    except ValueError as error:
        raise UsageError(str(error)) from None
    config.vocabulary_size = len(corpus.vocabulary)
    config.corpus_tokens = corpus.tokens
    for name, split in corpus.splits.items():
        setattr(config, f"{name}_tokens", split.tokens)
    if not parallel.writes:
        _fit(None, config, corpus, command_line, state={}, model=None, steps_per_epoch=steps_per_epoch,
             parallel=parallel)  # fmt: skip
        return None
    run_dir = rundir.create_run_dir(logdir, run_name or time.strftime(f"%Y%m%d-%H%M%S-{config.cell}"))
    with rundir.locked(run_dir), _resumable(run_dir):
        rundir.write_status(run_dir, complete=False, started=time.time(), epochs_completed=0)
        rundir.write_atomic(run_dir / rundir.VOCABULARY_FILE, corpus.vocabulary.to_json())
        rundir.write_atomic(
            run_dir / rundir.CONFIG_FILE,
            config_json(
                config,
                command_line=command_line,
                vocabulary_sha256=sha256_of(run_dir / rundir.VOCABULARY_FILE),
                files=corpus.files,
                versions=_versions(),
            ),
        )
        rundir.write_test_split(run_dir, corpus.splits["test"])
        _fit(run_dir, config, corpus, command_line, state={}, model=None, steps_per_epoch=steps_per_epoch,
             parallel=parallel)  # fmt: skip
    return run_dir


def _shared_corpus(config: Config, cache_dir: Path | None, parallel: Parallel) -> Corpus:
    """The corpus, read by process 0 first (it fills the cache), then by the others, who
    read that cache where they share the logdir; all then check they hold the same."""
    corpus = corpus_for(config, cache_dir) if parallel.writes else None
    distribute.wait_for_others(parallel, "corpus read by process 0")
    corpus = corpus or corpus_for(config, cache_dir)
    try:
        distribute.check_same_corpus(corpus, parallel)
    except ValueError as error:
        raise UserError(str(error)) from None
    return corpus


def resume(run_dir: Path, use_cache: bool = True, parallel: Parallel = SINGLE) -> Path:
    """Continue an interrupted run from its last completed epoch, with its own settings
    (every process of a run on several reads the run folder; process 0 alone writes it)."""
    if not run_dir.exists():
        raise rundir.RunError(f"{run_dir} does not exist; pass the run folder to continue, e.g. --resume logs/RUN")
    if not (run_dir / rundir.CONFIG_FILE).is_file():
        raise rundir.RunError(f"{run_dir} is not a run folder to resume (no {rundir.CONFIG_FILE})")
    if rundir.is_complete(run_dir):
        raise rundir.RunError(f"run {run_dir} is already complete; start a new run instead")
    with rundir.locked(run_dir) if parallel.writes else contextlib.nullcontext(), _resumable(run_dir):
        config, provenance = load_config(run_dir / rundir.CONFIG_FILE)
        if sha256_of(run_dir / rundir.VOCABULARY_FILE) != provenance.get("vocabulary_sha256"):
            raise rundir.RunError(f"{run_dir / rundir.VOCABULARY_FILE} was changed since the run started")
        _check_resumable_on(parallel, config)
        if parallel.writes:
            backend.use_compilation_cache(run_dir.parent / CACHE_DIR / "jax")
        corpus = _shared_corpus(config, run_dir.parent / CACHE_DIR if use_cache else None, parallel)
        if corpus.vocabulary != Vocabulary.load(run_dir / rundir.VOCABULARY_FILE):
            raise rundir.RunError(f"the corpus changed since run {run_dir} started, so it cannot be resumed")
        state = read_state(run_dir)
        model = None
        if state:
            with distribute.scope(parallel):
                model = rundir.load_model(run_dir / rundir.CHECKPOINT_DIR / rundir.CHECKPOINT_MODEL, compile=True)
            print(f"resuming {run_dir} after epoch {state['epochs_completed']}")
        else:
            print(f"resuming {run_dir}: no epoch was completed before it stopped, so training restarts at epoch 1")
        if parallel.writes:
            monitoring.truncate_events(run_dir, state.get("epochs_completed", 0), state.get("global_step", 0))
        _fit(run_dir, config, corpus, provenance.get("command_line", ""), state=state, model=model, parallel=parallel)
    return run_dir


def _check_resumable_on(parallel: Parallel, config: Config) -> None:
    try:
        distribute.check_batch(config.batch_size, parallel)
    except ValueError as error:
        raise UsageError(f"--devices: the run's {error}") from None
    if parallel.distributed and config.histograms:
        raise UsageError("the run logs --histograms, read on one device; resume it without --devices or "
                         "--coordinator")  # fmt: skip


@contextlib.contextmanager
def _resumable(run_dir: Path):
    """Ctrl-C during training says how to continue the run from its last completed epoch."""
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(
            f"continue from the last completed epoch with python -m word_predictor.train --resume {run_dir}"
        ) from None


class TimedBatches(keras.utils.PyDataset):
    """Passes batches through, adding up the seconds spent making them (the input pipeline's share)."""

    def __init__(self, batches):
        super().__init__()
        self.batches = batches
        self.seconds = 0.0

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        begin = time.perf_counter()
        try:
            return self.batches[index]
        finally:
            self.seconds += time.perf_counter() - begin

    def on_epoch_end(self):
        if hasattr(self.batches, "on_epoch_end"):
            self.batches.on_epoch_end()


def _fit(
    run_dir: Path | None, config: Config, corpus: Corpus, command_line: str, state: dict, model, steps_per_epoch=None,
    parallel: Parallel = SINGLE,
) -> None:
    previous = keras.mixed_precision.dtype_policy().name
    try:
        with distribute.scope(parallel):
            _fit_with_policy(run_dir, config, corpus, command_line, state, model, steps_per_epoch, parallel)
    finally:
        keras.mixed_precision.set_dtype_policy(previous)  # Keras' policy is global: leave it as found


def _fit_with_policy(run_dir, config, corpus, command_line, state, model, steps_per_epoch, parallel) -> None:
    initial_epoch = state.get("epochs_completed", 0)
    keras.utils.set_random_seed(config.seed + initial_epoch)
    on_gpu = gpu_available()
    context = context_for(config)
    backend.apply_precision(config.precision)  # before any layer is made
    use_cudnn = backend.use_cudnn(config.precision)
    if model is None:
        model = context.training_model(on_gpu, use_cudnn)
        compile_model(model, config)
    train_batches = context.training_batches(corpus.splits["train"], epoch=initial_epoch)
    with distribute.local():  # the view predict uses; the checkpoint refreshes it each epoch
        inference = build_model(config, use_cudnn=use_cudnn)
    validation = validation_for(context, corpus.splits["validation"], inference)
    validation_batches, validation_callbacks = validation or (None, [])
    watched = "val_loss" if validation else "loss"

    early_stopping = keras.callbacks.EarlyStopping(monitor=watched, patience=config.patience, min_delta=1e-4)
    # quiet: the epoch line shows the learning rate (Keras would print it with 16 digits)
    schedule = keras.callbacks.ReduceLROnPlateau(
        monitor=watched, factor=0.5, patience=0, min_lr=config.learning_rate / 64, verbose=0
    )
    non_finite = StopOnNonFiniteLoss()
    checkpoint = RunCheckpoint(run_dir, [early_stopping, schedule], state, inference_view=inference,
                               writes=parallel.writes)  # fmt: skip
    timed = TimedBatches(distribute.feed(train_batches, parallel))
    follow, stop_together = distribute.agreement(parallel)
    shown, prompts = [], []
    if parallel.writes:
        shown, prompts = _monitoring(run_dir, config, corpus, model, inference, train_batches, timed, state,
                                     command_line)  # fmt: skip
    else:
        validation_callbacks = []  # process 0 scores the validation split, and shares the figures
    validation_batches = distribute.feed(validation_batches, parallel)
    if initial_epoch < config.epochs and not state.get("stopped_early"):
        if parallel.writes:
            print(
                f"training {config.cell}{' (bidirectional)' if config.bidirectional else ''} on "
                f"{_devices(on_gpu, parallel)} ({config.context} context): "
                f"{train_batches.targets_per_epoch:,} targets per epoch, "
                f"vocabulary {config.vocabulary_size:,}, run {run_dir}"
            )
        model.fit(
            timed,
            validation_data=validation_batches,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            callbacks=[non_finite, *validation_callbacks, *follow, *shown, EpochProgress(), early_stopping, schedule,
                       TimeLimit(config.time_limit * 60), *stop_together, checkpoint],  # fmt: skip
            verbose=0,  # EpochProgress prints shorter lines, and progress without a terminal too
            steps_per_epoch=steps_per_epoch and min(steps_per_epoch, len(timed)),
            validation_steps=steps_per_epoch and validation_batches and min(steps_per_epoch, len(validation_batches)),
        )
    if not parallel.writes:
        return
    if not (run_dir / rundir.MODEL_FILE).is_file():
        rundir.write_status(run_dir, stopped="non-finite loss")
        raise UserError(
            "the loss became NaN or infinite before the first epoch ended, so there is no model to keep; "
            "lower --learning-rate or --clip-norm"
        )
    with distribute.local():  # the saved model, scored by this process alone
        _finish(run_dir, config, corpus, checkpoint.state, stopped_at=non_finite.stopped_at, prompts=prompts)
    if non_finite.stopped_at:
        epoch, batch = non_finite.stopped_at
        raise UserError(
            f"training stopped in epoch {epoch + 1}, batch {batch + 1}: the loss became NaN or infinite. "
            f"The best model so far (epoch {checkpoint.state['best_epoch'] + 1}) is kept in {run_dir}; "
            "lower --learning-rate or --clip-norm to train further"
        )


def _monitoring(run_dir, config, corpus, model, inference, train_batches, timed, state, command_line):
    """(The TensorBoard callbacks, the sample prompts) of the process that writes the run."""
    if state.get("epochs_completed", 0) == 0:
        monitoring.write_run_description(run_dir, config, model, command_line)
    prompts = sample_prompts(config, corpus.splits["validation"], corpus.vocabulary)
    shown = monitoring.callbacks(
        run_dir,
        config,
        samples=lambda trained: samples_markdown(
            Predictor.for_model(copy_weights(trained, inference), config, corpus.vocabulary), prompts
        ),
        targets_per_epoch=train_batches.targets_per_epoch,
        windows_per_epoch=train_batches.examples_per_epoch,
        first_step=state.get("global_step", 0),
        gradient_batch=train_batches[0] if config.histograms else None,
        input_seconds=lambda: timed.seconds,
    )
    return shown, prompts


def _devices(on_gpu: bool, parallel: Parallel) -> str:
    kind = "GPU" if on_gpu else "CPU"
    if not parallel.distributed:
        return f"the {kind}"
    processes = f" in {parallel.process_count} processes" if parallel.process_count > 1 else ""
    return f"{parallel.device_count} {kind} devices{processes}"


def _finish(run_dir: Path, config: Config, corpus: Corpus, state: dict, stopped_at, prompts: list[str]) -> None:
    """Score the kept (best) model on the test split, then mark the run complete."""
    model = rundir.load_model(run_dir / rundir.MODEL_FILE)
    predictor = Predictor.for_model(model, config, corpus.vocabulary)
    metrics: dict = {
        "best_epoch": state.get("best_epoch", 0) + 1,
        "epochs_completed": state.get("epochs_completed", 0),
        "best_validation_loss": state.get("best_val_loss"),
        "stopped": "non-finite loss" if stopped_at else None,
    }
    last_step = metrics["epochs_completed"] - 1
    try:
        scores = score_run(predictor, corpus.splits["test"])
    except NothingToScore:
        print("no test split to score (--test-fraction 0 or a very short corpus)")
    else:
        metrics["test"] = scores
        print(f"test split of {run_dir.name}:\n{format_scores(scores)}")
        monitoring.write_test_metrics(run_dir, scores, step=last_step)
    monitoring.write_final_samples(
        run_dir, samples_markdown(predictor, prompts), step=metrics["epochs_completed"], best_epoch=state.get("best_epoch", 0)
    )
    monitoring.write_projector(run_dir, model, corpus.vocabulary)
    rundir.write_json(run_dir / rundir.METRICS_FILE, metrics)
    rundir.mark_complete(run_dir)
    print(f'done: python -m word_predictor.predict --run {run_dir} "{DEFAULT_PROMPT}"')


def _versions() -> dict:
    versions = {"python": platform.python_version(), "keras": keras.__version__, "backend": keras.backend.backend()}
    for package in ("tensorflow", "jax", "torch"):
        module = sys.modules.get(package)
        if module is not None and hasattr(module, "__version__"):
            versions[package] = module.__version__
    return versions
