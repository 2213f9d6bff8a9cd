"""python -m word_predictor.train: read a corpus, train a recurrent model, write a run folder.

    corpus/ --read, split, vocabulary--> WindowBatches --fit--> logs/RUN/
                                                       callbacks: TensorBoard figures, samples,
                                                       early stopping, learning-rate schedule,
                                                       best model and resume checkpoint
"""

from __future__ import annotations

import argparse
import platform
import shlex
import sys
import time
from pathlib import Path


from word_predictor.backend import gpu_available, keras
from word_predictor import monitoring, rundir
from word_predictor.checkpoint import RunCheckpoint, StopOnNonFiniteLoss, read_state
from word_predictor.config import CELLS, TARGETS, Config, config_json, load_config
from word_predictor.corpus import ENCODING_ERRORS, Corpus, ProgressBar, build_corpus, window_block_size
from word_predictor.errors import UsageError, UserError, run_cli
from word_predictor.evaluate import format_scores, score
from word_predictor.model import NextWord, build_model, compile_model, validate
from word_predictor.text import Vocabulary, sha256_of, tokenizer_for
from word_predictor.windows import WindowBatches

PROG = "python -m word_predictor.train"
CACHE_DIR = ".cache"  # under --logdir: the word ids of corpora already read
DEFAULTS = Config()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train a next-word predictor on a folder of .txt files and write a run folder under --logdir.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    d = DEFAULTS
    data = parser.add_argument_group("data")
    data.add_argument("--corpus", action="append", metavar="PATH",
                      help="folder (read recursively for *.txt) or file; repeat for more (default: corpus)")
    data.add_argument("--window-size", type=int, default=d.window_size, help="words of context per window")
    data.add_argument("--unknown-threshold", type=int, default=d.unknown_threshold,
                      help="words seen this many times or fewer in training become the unknown symbol")
    data.add_argument("--validation-fraction", type=float, default=d.validation_fraction,
                      help="share of the corpus held out to monitor training")
    data.add_argument("--test-fraction", type=float, default=d.test_fraction,
                      help="share of the corpus held out for the final test figures")
    data.add_argument("--encoding-errors", choices=ENCODING_ERRORS, default=d.encoding_errors,
                      help="invalid UTF-8: stop and name the file, turn it into a word break, or drop it")

    model = parser.add_argument_group("model")
    model.add_argument("--cell", choices=CELLS, default=d.cell, help="recurrent cell")
    model.add_argument("--bidirectional", action="store_true", help="read each window in both directions")
    model.add_argument("--layers", type=int, default=d.layers, help="stacked recurrent layers")
    model.add_argument("--units", type=int, default=d.units, help="units per recurrent layer (and direction)")
    model.add_argument("--embedding-dim", type=int, default=d.embedding_dim, help="size of the word embedding")
    model.add_argument("--one-hot", action="store_true",
                       help="feed one-hot word vectors (made per batch) instead of an embedding")
    model.add_argument("--dropout", type=float, default=d.dropout, help="dropout after the input and each layer")
    model.add_argument("--targets", choices=TARGETS,
                       help="'all': every window position predicts its next word; 'last': only the "
                            "final one (default: all, or last with --bidirectional)")

    training = parser.add_argument_group("training")
    training.add_argument("--epochs", type=int, default=d.epochs, help="most epochs to train")
    training.add_argument("--batch-size", type=int, default=d.batch_size, help="windows per step")
    training.add_argument("--learning-rate", type=float, default=d.learning_rate, help="Adam's learning rate")
    training.add_argument("--clip-norm", type=float, default=d.clip_norm,
                          help="clip each gradient to this norm (0: no clipping)")
    training.add_argument("--patience", type=int, default=d.patience,
                          help="stop after this many epochs without a better validation loss "
                               "(the learning rate halves after each such epoch)")
    training.add_argument("--seed", type=int, default=d.seed, help="random seed")

    output = parser.add_argument_group("output")
    output.add_argument("--logdir", type=Path, default=Path("logs"), help="folder that holds the runs")
    output.add_argument("--run-name", help="name of the run folder (default: date, time and cell)")
    output.add_argument("--log-every", type=int, default=d.log_every, help="log the batch loss every N steps")
    output.add_argument("--histograms", action="store_true",
                        help="log weight histograms and gradient norms every epoch")
    output.add_argument("--sample-prompt", action="append", default=[], metavar="TEXT",
                        help="also show this prompt's predictions in TensorBoard at each epoch end")
    output.add_argument("--no-cache", action="store_true",
                        help="read the corpus afresh and keep no copy of its word ids under LOGDIR/.cache")
    output.add_argument("--resume", type=Path, metavar="RUN",
                        help="continue this interrupted run from its last completed epoch, with its settings")
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    return Config(
        corpus=[str(Path(p).absolute()) for p in (args.corpus or ["corpus"])],
        window_size=args.window_size,
        unknown_threshold=args.unknown_threshold,
        validation_fraction=args.validation_fraction,
        test_fraction=args.test_fraction,
        encoding_errors=args.encoding_errors,
        cell=args.cell,
        bidirectional=args.bidirectional,
        layers=args.layers,
        units=args.units,
        embedding_dim=args.embedding_dim,
        one_hot=args.one_hot,
        dropout=args.dropout,
        targets=args.targets or ("last" if args.bidirectional else "all"),
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        clip_norm=args.clip_norm,
        patience=args.patience,
        seed=args.seed,
        log_every=args.log_every,
        histograms=args.histograms,
        sample_prompts=list(args.sample_prompt),
    )


def check_settings(config: Config) -> None:
    try:
        validate(config)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if config.unknown_threshold < 0 or config.epochs < 1 or config.batch_size < 1 or config.learning_rate <= 0:
        raise UsageError("--unknown-threshold must be >= 0; --epochs, --batch-size and --learning-rate > 0")
    fractions = (config.validation_fraction, config.test_fraction)
    if min(fractions) < 0 or sum(fractions) >= 0.9:
        raise UsageError("--validation-fraction and --test-fraction must be >= 0 and leave training text")


def corpus_for(config: Config, cache_dir: Path | None = None) -> Corpus:
    return build_corpus(
        config.corpus,
        tokenizer=tokenizer_for(config.level, config.normalisation),
        unknown_threshold=config.unknown_threshold,
        max_vocabulary=config.max_vocabulary,
        validation_fraction=config.validation_fraction,
        test_fraction=config.test_fraction,
        block_size=window_block_size(config.window_size),
        min_tokens=config.window_size + 1,
        encoding_errors=config.encoding_errors,
        cache_dir=cache_dir,
        progress=ProgressBar(),
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command_line = f"{PROG} {shlex.join(sys.argv[1:] if argv is None else argv)}".strip()
    return run_cli("word_predictor.train", lambda: _train(args, parser, command_line))


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser, command_line: str) -> int:
    if args.resume:
        given = [f"--{k.replace('_', '-')}" for k, v in vars(args).items()
                 if k not in ("resume", "logdir", "no_cache") and v != parser.get_default(k)]  # fmt: skip
        if given:
            raise UsageError(f"--resume takes every setting from the run; drop {' '.join(given)}")
        return _resume(args.resume, use_cache=not args.no_cache)
    config = config_from_args(args)
    check_settings(config)
    corpus = corpus_for(config, None if args.no_cache else args.logdir / CACHE_DIR)
    config.vocabulary_size = len(corpus.vocabulary)
    config.corpus_tokens = corpus.tokens
    for name, split in corpus.splits.items():
        setattr(config, f"{name}_tokens", split.tokens)
    run_dir = rundir.create_run_dir(args.logdir, args.run_name or time.strftime(f"%Y%m%d-%H%M%S-{config.cell}"))
    with rundir.locked(run_dir):
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
        return _fit(run_dir, config, corpus, command_line, state={}, model=None)


def _resume(run_dir: Path, use_cache: bool) -> int:
    if not (run_dir / rundir.CONFIG_FILE).is_file():
        raise rundir.RunError(f"{run_dir} is not a run folder to resume (no {rundir.CONFIG_FILE})")
    if rundir.is_complete(run_dir):
        raise rundir.RunError(f"run {run_dir} is already complete; start a new run instead")
    with rundir.locked(run_dir):
        config, provenance = load_config(run_dir / rundir.CONFIG_FILE)
        if sha256_of(run_dir / rundir.VOCABULARY_FILE) != provenance.get("vocabulary_sha256"):
            raise rundir.RunError(f"{run_dir / rundir.VOCABULARY_FILE} was changed since the run started")
        corpus = corpus_for(config, run_dir.parent / CACHE_DIR if use_cache else None)
        if corpus.vocabulary != Vocabulary.load(run_dir / rundir.VOCABULARY_FILE):
            raise rundir.RunError(f"the corpus changed since run {run_dir} started, so it cannot be resumed")
        state = read_state(run_dir)
        model = None
        if state:
            model = rundir.load_model(run_dir / rundir.CHECKPOINT_DIR / rundir.CHECKPOINT_MODEL, compile=True)
            print(f"resuming {run_dir} after epoch {state['epochs_completed']}")
        if monitoring.available():
            monitoring.truncate_events(run_dir, state.get("epochs_completed", 0), state.get("global_step", 0))
        return _fit(run_dir, config, corpus, provenance.get("command_line", ""), state=state, model=model)


def _fit(run_dir: Path, config: Config, corpus: Corpus, command_line: str, state: dict, model) -> int:
    initial_epoch = state.get("epochs_completed", 0)
    keras.utils.set_random_seed(config.seed + initial_epoch)
    on_gpu = gpu_available()
    if model is None:
        # On a CPU, windows of fixed length with the time loop unrolled train about
        # 1.14x faster (benchmarks/training_graph.py); on a GPU the open-length model
        # keeps the cuDNN kernel. Both hold the same weights.
        model = build_model(config, fixed_length=not on_gpu)
        compile_model(model, config)
    batches = dict(window_size=config.window_size, batch_size=config.batch_size, targets=config.targets)
    train = corpus.splits["train"]
    train_batches = WindowBatches(
        train, shuffle=True, seed=config.seed, epoch=initial_epoch, **batches
    )
    if train_batches.windows == 0:
        raise UserError("the training split holds no full window; add text or lower --window-size")
    validation = corpus.splits["validation"]
    validation_batches = WindowBatches(
        validation, shuffle=False, last_only=True, **batches
    )
    has_validation = validation_batches.windows > 0
    watched = "val_loss" if has_validation else "loss"

    early_stopping = keras.callbacks.EarlyStopping(monitor=watched, patience=config.patience, min_delta=1e-4)
    schedule = keras.callbacks.ReduceLROnPlateau(
        monitor=watched, factor=0.5, patience=0, min_lr=config.learning_rate / 64, verbose=1
    )
    non_finite = StopOnNonFiniteLoss()
    checkpoint = RunCheckpoint(run_dir, config, [early_stopping, schedule], state)
    if monitoring.available() and initial_epoch == 0:
        monitoring.write_run_description(run_dir, config, model, command_line)
    shown = monitoring.callbacks(
        run_dir,
        config,
        corpus.vocabulary,
        prompts=monitoring.sample_prompts(config, validation, corpus.vocabulary),
        targets_per_epoch=train_batches.windows * train_batches.targets_per_window,
        first_step=state.get("global_step", 0),
        gradient_batch=train_batches[0] if config.histograms else None,
    )
    if initial_epoch < config.epochs and not state.get("stopped_early"):
        device = "GPU" if on_gpu else "CPU"
        print(
            f"training {config.cell}{' (bidirectional)' if config.bidirectional else ''} on the {device}: "
            f"{train_batches.windows:,} windows, vocabulary {config.vocabulary_size:,}, run {run_dir}"
        )
        model.fit(
            train_batches,
            validation_data=validation_batches if has_validation else None,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            callbacks=[non_finite, *shown, early_stopping, schedule, checkpoint],
            verbose=1 if sys.stdout.isatty() else 2,
        )
    if not (run_dir / rundir.MODEL_FILE).is_file():
        rundir.write_status(run_dir, stopped="non-finite loss")
        raise UserError(
            "the loss became NaN or infinite before the first epoch ended, so there is no model to keep; "
            "lower --learning-rate or --clip-norm"
        )
    _finish(run_dir, config, corpus, checkpoint.state, stopped_at=non_finite.stopped_at)
    if non_finite.stopped_at:
        epoch, batch = non_finite.stopped_at
        raise UserError(
            f"training stopped in epoch {epoch + 1}, batch {batch + 1}: the loss became NaN or infinite. "
            f"The best model so far (epoch {checkpoint.state['best_epoch'] + 1}) is kept in {run_dir}; "
            "lower --learning-rate or --clip-norm to train further"
        )
    return 0


def _finish(run_dir: Path, config: Config, corpus: Corpus, state: dict, stopped_at) -> None:
    """Score the best model on the test split, then mark the run complete."""
    model = rundir.load_model(run_dir / rundir.MODEL_FILE)
    test = corpus.splits["test"]
    metrics: dict = {
        "best_epoch": state.get("best_epoch", 0) + 1,
        "epochs_completed": state.get("epochs_completed", 0),
        "best_validation_loss": state.get("best_val_loss"),
        "stopped": "non-finite loss" if stopped_at else None,
    }
    try:
        scores = score(NextWord(model), test, config.window_size)
    except UserError:
        print("no test split to score (--test-fraction 0 or a very short corpus)")
    else:
        metrics["test"] = scores
        print(f"test split of {run_dir.name}:\n{format_scores(scores)}")
        if monitoring.available():
            monitoring.write_test_metrics(run_dir, scores, step=metrics["epochs_completed"] - 1)
    if monitoring.available():
        monitoring.write_projector(run_dir, model, corpus.vocabulary)
    rundir.write_json(run_dir / rundir.METRICS_FILE, metrics)
    rundir.mark_complete(run_dir)
    print(f'done: python -m word_predictor.predict --run {run_dir} "some of them looks like"')


def _versions() -> dict:
    versions = {"python": platform.python_version(), "keras": keras.__version__, "backend": keras.backend.backend()}
    if monitoring.available():
        versions["tensorflow"] = monitoring.tf.__version__
    return versions


if __name__ == "__main__":
    sys.exit(main())
