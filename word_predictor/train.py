"""python -m word_predictor.train: read a corpus, train a recurrent model, write a run folder.

The command parses and checks the flags, picks the Keras backend, then hands a
Config to word_predictor.trainer, which does the work.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from word_predictor import backend
from word_predictor.config import CELLS, CONTEXTS, PRECISIONS, TARGETS, Config, validate
from word_predictor.corpus import ENCODING_ERRORS
from word_predictor.errors import UsageError, run_cli

PROG = "python -m word_predictor.train"
DEFAULTS = Config()
# Lanes read the text once per epoch, so fewer, longer batches than windows.
DEFAULT_BATCH_SIZE = {"window": DEFAULTS.batch_size, "full": 32}


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
    model.add_argument("--tie-weights", action="store_true",
                       help="the output layer reuses the embedding matrix (needs --embedding-dim = --units)")
    model.add_argument("--targets", choices=TARGETS,
                       help="'all': every window position predicts its next word; 'last': only the "
                            "final one (default: all, or last with --bidirectional)")

    context = parser.add_argument_group("context")
    context.add_argument("--context", choices=CONTEXTS, default=d.context,
                         help="'window': the model reads the last --window-size words; 'full': it reads the "
                              "running text in lanes, its state carried from chunk to chunk (unbounded context)")
    context.add_argument("--window-size", "--chunk-size", type=int, default=d.window_size,
                         help="words per window (--context window)")
    context.add_argument("--bptt", type=int, default=d.bptt,
                         help="words per chunk, the steps gradients flow back through (--context full)")

    training = parser.add_argument_group("training")
    training.add_argument("--epochs", type=int, default=d.epochs, help="most epochs to train")
    training.add_argument("--batch-size", type=int,
                          help="windows per step, or lanes with --context full (default: 128 windows, 32 lanes)")
    training.add_argument("--learning-rate", type=float, default=d.learning_rate, help="Adam's learning rate")
    training.add_argument("--clip-norm", type=float, default=d.clip_norm,
                          help="clip each gradient to this norm (0: no clipping)")
    training.add_argument("--patience", type=int, default=d.patience,
                          help="stop after this many epochs without a better validation loss "
                               "(the learning rate halves after each such epoch)")
    training.add_argument("--seed", type=int, default=d.seed, help="random seed")
    training.add_argument("--time-limit", type=float, default=d.time_limit, metavar="MINUTES",
                          help="stop after the epoch that passes this many minutes of training (0: no limit)")
    backend.add_backend_argument(training)
    training.add_argument("--precision", choices=PRECISIONS, default=d.precision,
                          help="float32, or mixed precision (float16/bfloat16 compute, float32 weights; pays on a GPU)")

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
        context=args.context,
        bptt=args.bptt,
        tie_weights=args.tie_weights,
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
        batch_size=args.batch_size or DEFAULT_BATCH_SIZE[args.context],
        learning_rate=args.learning_rate,
        clip_norm=args.clip_norm,
        patience=args.patience,
        seed=args.seed,
        time_limit=args.time_limit,
        precision=args.precision,
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command_line = f"{PROG} {shlex.join(sys.argv[1:] if argv is None else argv)}".strip()
    return run_cli("word_predictor.train", lambda: _train(args, parser, command_line))


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser, command_line: str) -> int:
    if args.resume:
        given = [f"--{k.replace('_', '-')}" for k, v in vars(args).items()
                 if k not in ("resume", "logdir", "no_cache", "backend") and v != parser.get_default(k)]  # fmt: skip
        if given:
            raise UsageError(f"--resume takes every setting from the run; drop {' '.join(given)}")
        backend.select(args.backend)
        from word_predictor import trainer

        trainer.resume(args.resume, use_cache=not args.no_cache)
        return 0
    config = config_from_args(args)
    check_settings(config)
    backend.select(args.backend)
    from word_predictor import trainer

    trainer.train_new(config, args.logdir, args.run_name, command_line, use_cache=not args.no_cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
