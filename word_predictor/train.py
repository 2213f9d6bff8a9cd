"""python -m word_predictor.train: read a corpus, train a recurrent model, write a run folder.

The command parses and checks the flags, picks the Keras backend, then hands a
Config to word_predictor.training.trainer, which does the work.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from word_predictor import backend, cli
from word_predictor.config import (
    CELLS,
    CONTEXTS,
    DEFAULT_PROMPT,
    HELD_OUT_SPLITS,
    LEVELS,
    NORMALISATIONS,
    OPTIMIZERS,
    PRECISIONS,
    TARGETS,
    Config,
    SettingError,
    validate,
)
from word_predictor.corpus.files import ENCODING_ERRORS
from word_predictor.errors import Interrupted, UsageError, UserError
from word_predictor.training import cluster

PROG = "python -m word_predictor.train"
DEFAULTS = Config()  # at word level; Config(level="char") has the character defaults
CHAR_DEFAULTS = Config(level="char")
DEFAULT_CORPUS = "corpus"  # a folder of the working directory, as in the repository


@dataclasses.dataclass(frozen=True)
class SettingFlag:
    """One Config field as a flag of train: the one place its flag is described. The flag's
    name is the field's (cli.flag_of) unless `flag` says otherwise; `default` False leaves the
    flag's default out (None), for Config to fill with what leaving it out means at the level
    (and context) chosen; `read` turns what argparse gives into the setting."""

    name: str
    section: str  # the --help group it is listed in
    help: str
    type: Callable | None = None
    choices: tuple | None = None
    default: bool = True  # argparse's default is Config()'s (DEFAULTS); "%(default)s" shows it
    flag: str | None = None
    aliases: tuple[str, ...] = ()
    action: str | None = None
    nargs: str | None = None
    metavar: str | None = None
    read: Callable | None = None

    @property
    def option(self) -> str:
        return self.flag or cli.flag_of(self.name)

    def add_to(self, group) -> None:
        options = {key: value for key, value in (("type", self.type), ("choices", self.choices), ("action", self.action),
                   ("nargs", self.nargs), ("metavar", self.metavar)) if value is not None}  # fmt: skip
        if self.default and self.action is None:
            options["default"] = getattr(DEFAULTS, self.name)
        group.add_argument(self.option, *self.aliases, dest=self.name, help=self.help, **options)


def _absolute(paths) -> list[str]:
    return [str(Path(path).absolute()) for path in paths or []]


# Every setting a user chooses, in --help's order (what the corpus finds is config.CorpusFacts).
SETTINGS = (
    SettingFlag("corpus", "data", metavar="PATH", action="append",
                read=lambda paths: _absolute(paths or [DEFAULT_CORPUS]),
                help="folder (read recursively for *.txt) or file; repeat for more (default: the corpus folder of "
                     "the working directory)"),
    SettingFlag("level", "data", choices=LEVELS,
                help="what one token is: a word, or a character (char runs read the full context by default) "
                     "(default: %(default)s)"),
    SettingFlag("normalisation", "data", choices=NORMALISATIONS, default=False,
                help="word level: 'unicode' keeps letters of every script and typographic apostrophes; 'ascii' is "
                     f"the original study's a-z rule (default: {DEFAULTS.normalisation})"),
    SettingFlag("max_vocabulary", "data", type=cli.non_negative_int, metavar="N",
                help="keep only the N most frequent tokens (0: no limit), with --unknown-threshold "
                     "(default: %(default)s)"),
    SettingFlag("unknown_threshold", "data", type=cli.non_negative_int,
                help="words seen this many times or fewer in training become the unknown symbol (default: %(default)s)"),
    SettingFlag("validation_fraction", "data", type=cli.fraction, default=False,
                help=f"share of the corpus held out to monitor training (default: {DEFAULTS.validation_fraction}, or 0 with "
                     "--validation-text)"),
    SettingFlag("test_fraction", "data", type=cli.fraction, default=False,
                help=f"share of the corpus held out for the final test figures (default: {DEFAULTS.test_fraction}, or 0 "
                     "with --test-text)"),
    SettingFlag("validation_text", "data", nargs="+", metavar="PATH", default=False, read=_absolute,
                help="files or folders to monitor training on instead of a share of the corpus (for a corpus that "
                     "comes with its own, such as WikiText-2's valid file)"),
    SettingFlag("test_text", "data", nargs="+", metavar="PATH", default=False, read=_absolute,
                help="files or folders for the final test figures instead of a share of the corpus (evaluate "
                     "scores them again by default)"),
    SettingFlag("encoding_errors", "data", choices=ENCODING_ERRORS,
                help="invalid UTF-8: stop and name the file, turn it into a word break, or drop it "
                     "(default: %(default)s)"),
    SettingFlag("cell", "model", choices=CELLS, help="recurrent cell (default: %(default)s)"),
    SettingFlag("bidirectional", "model", action="store_true", help="read each window in both directions"),
    SettingFlag("layers", "model", type=cli.positive_int, default=False,
                help=f"stacked recurrent layers (default: {DEFAULTS.layers} for words, {CHAR_DEFAULTS.layers} for characters)"),
    SettingFlag("units", "model", type=cli.positive_int,
                help="units per recurrent layer (and direction) (default: %(default)s)"),
    SettingFlag("embedding_dim", "model", type=cli.positive_int, default=False,
                help=f"size of the token embedding (default: {DEFAULTS.embedding_dim} for words, {CHAR_DEFAULTS.embedding_dim} for "
                     "characters)"),
    SettingFlag("one_hot", "model", action="store_true",
                help="feed one-hot word vectors (made per batch) instead of an embedding"),
    SettingFlag("dropout", "model", type=cli.fraction, default=False,
                help=f"dropout after the input and each layer, at least 0 and below 1 (default: {DEFAULTS.dropout} for "
                     f"words, {CHAR_DEFAULTS.dropout} for characters)"),
    SettingFlag("tie_weights", "model", action="store_true",
                help="the output layer reuses the embedding matrix (through a projection when --embedding-dim "
                     "differs from --units)"),
    SettingFlag("targets", "model", choices=TARGETS, default=False,
                help="'all': every window position predicts its next word; 'last': only the final one (default: "
                     "all, or last with --bidirectional)"),
    SettingFlag("context", "context", choices=CONTEXTS, default=False,
                help="'window': the model reads the last --window-size words; 'full': it reads the running text in "
                     "lanes, its state carried from chunk to chunk (unbounded context) "
                     f"(default: {DEFAULTS.context} for words, {CHAR_DEFAULTS.context} for characters)"),
    SettingFlag("window_size", "context", type=cli.positive_int,
                help="words per window (--context window) (default: %(default)s)"),
    SettingFlag("bptt", "context", type=cli.positive_int, default=False,
                help="tokens per chunk, the steps gradients flow back through (--context full) "
                     f"(default: {DEFAULTS.bptt} words, {CHAR_DEFAULTS.bptt} characters)"),
    SettingFlag("epochs", "training", type=cli.positive_int, help="most epochs to train (default: %(default)s)"),
    SettingFlag("batch_size", "training", type=cli.positive_int, default=False,
                help=f"windows per step, or lanes with --context full (default: {DEFAULTS.batch_size} windows, "
                     f"{CHAR_DEFAULTS.batch_size} lanes)"),
    SettingFlag("learning_rate", "training", type=cli.positive_float,
                help="the optimiser's learning rate (default: %(default)s)"),
    SettingFlag("clip_norm", "training", type=cli.non_negative_float,
                help="clip each gradient to this norm (0: no clipping) (default: %(default)s)"),
    SettingFlag("patience", "training", type=cli.non_negative_int,
                help="stop after this many epochs without a better validation loss (the learning rate halves "
                     "as --lr-patience says) (default: %(default)s)"),
    SettingFlag("seed", "training", type=cli.non_negative_int, help="random seed (default: %(default)s)"),
    SettingFlag("time_limit", "training", type=cli.non_negative_float, metavar="MINUTES",
                help="stop after the epoch that passes this many minutes of training (0: no limit) "
                     "(default: %(default)s)"),
    SettingFlag("precision", "training", choices=PRECISIONS,
                help="float32, or mixed precision (float16/bfloat16 compute, float32 weights; pays on a GPU) "
                     "(default: %(default)s)"),
    SettingFlag("locked_dropout", "regularisation (training only)", action="store_true",
                help="variational dropout: the --dropout layers keep one mask per sequence (per chunk with "
                     "--context full) instead of one per position"),
    SettingFlag("weight_drop", "regularisation (training only)", type=cli.fraction, metavar="RATE",
                help="drop this share of each recurrent kernel's entries, one mask per batch (DropConnect) "
                     "(default: %(default)s)"),
    SettingFlag("embedding_dropout", "regularisation (training only)", type=cli.fraction, metavar="RATE",
                help="drop this share of the vocabulary's words, every occurrence, one draw per batch "
                     "(default: %(default)s)"),
    SettingFlag("activation_regularisation", "regularisation (training only)", type=cli.non_negative_float,
                metavar="ALPHA", help="add ALPHA x the mean square of the last layer's (dropped) outputs to the "
                                      "loss (AR) (default: %(default)s)"),
    SettingFlag("temporal_activation_regularisation", "regularisation (training only)",
                type=cli.non_negative_float, metavar="BETA",
                help="add BETA x the mean square of the change of the last layer's outputs from step to step to "
                     "the loss (TAR; needs --targets all) (default: %(default)s)"),
    SettingFlag("optimizer", "regularisation (training only)", choices=OPTIMIZERS,
                help="adam, or plain SGD (give it a larger --learning-rate, such as 20, and a --clip-norm such "
                     "as 0.25) (default: %(default)s)"),
    SettingFlag("weight_averaging", "regularisation (training only)", action="store_true",
                help="keep a moving average of the weights; it is what is validated and kept"),
    SettingFlag("lr_patience", "regularisation (training only)", type=cli.non_negative_int, metavar="N",
                help="halve the learning rate at an epoch without a better validation loss only when N such "
                     "epochs came just before it (0: at each; more lets a regularised model's noisier validation "
                     "loss wait) (default: %(default)s)"),
    SettingFlag("log_every", "output", type=cli.non_negative_int, metavar="N",
                help="log the batch loss to TensorBoard every N steps (0: off) (default: %(default)s)"),
    SettingFlag("histograms", "output", action="store_true",
                help="log weight histograms and gradient norms every epoch"),
    SettingFlag("sample_prompts", "output", flag="--sample-prompt", action="append", metavar="TEXT",
                read=lambda prompts: list(prompts or []),
                help="also show this prompt's predictions in TensorBoard at each epoch end; repeat for more"),
)  # fmt: skip
# The one mapping from a setting the library names (a Config field, or a keyword of
# trainer.train_new) to the flag that sets it, for the library's SettingError messages.
FLAGS = {setting.name: setting.option for setting in SETTINGS} | {
    name: cli.flag_of(name) for name in ("run_name", "logdir", "resume")
} | {"use_cache": "--no-cache", "from_run": "--from", "run": "--from"}


def build_parser() -> argparse.ArgumentParser:
    parser = cli.Parser(
        prog=PROG,
        description="Train a next-word predictor on a folder of .txt files and write a run folder under --logdir.",
    )
    for title, add_arguments in ARGUMENT_GROUPS.items():
        group = parser.add_argument_group(title)
        for setting in SETTINGS:
            if setting.section == title:
                setting.add_to(group)
        add_arguments(group)
    return parser


def _training_arguments(training) -> None:
    backend.add_backend_argument(training)


def _devices_arguments(devices) -> None:
    devices.add_argument("--devices", type=_device_count, default=1, metavar="N|all",
                         help="train data parallel over N local devices (or all of them), each global batch "
                              "split evenly; on a CPU, JAX_NUM_CPU_DEVICES=N makes N virtual devices "
                              "(default: %(default)s)")
    devices.add_argument("--coordinator", metavar="HOST:PORT", type=_coordinator_address,
                         help="train with several processes (one per machine): the address of process 0, which "
                              "every process gives; 'auto' lets JAX read the cluster scheduler's environment "
                              "(SLURM, Open MPI)")
    devices.add_argument("--coordinator-timeout", type=cli.positive_float, default=cluster.DEFAULT_TIMEOUT,
                         metavar="SECONDS",
                         help="how long to wait for process 0 and every other process to join before giving up "
                              "(with --coordinator) (default: %(default)s)")
    devices.add_argument("--num-processes", type=cli.positive_int, metavar="P",
                         help="how many processes train together (with --coordinator)")
    devices.add_argument("--process-id", type=cli.non_negative_int, metavar="I",
                         help="this process's number, 0 to P - 1; process 0 writes the run folder "
                              "(with --coordinator)")


def _coordinator_address(text: str) -> str:
    try:
        return cluster.coordinator_address(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _output_arguments(output) -> None:
    output.add_argument("--logdir", type=Path, default=Path("logs"),
                        help="folder that holds the runs (default: %(default)s)")
    output.add_argument("--run-name", help="name of the run folder (default: date, time and cell)")
    output.add_argument("--no-cache", action="store_true",
                        help="read the corpus afresh and keep no copy of its word ids under LOGDIR/.cache")
    output.add_argument("--resume", type=Path, metavar="RUN",
                        help="continue this interrupted run from its last completed epoch, with its settings")
    output.add_argument("--from", dest="from_run", type=Path, metavar="RUN",
                        help="start a new run from this trained run's kept weights, trained on the --corpus "
                             "given: its vocabulary and model settings are kept, its training settings used unless "
                             "given (docs/training.md, \"Teaching a trained run your own text\")")


def _context_arguments(context) -> None:
    # --window-size's old name, read still: a "chunk" is --bptt's (tokens per chunk), not a window.
    context.add_argument("--chunk-size", dest="window_size", type=cli.positive_int, action=cli.OldName,
                         new_name="--window-size")


def _no_more_arguments(group) -> None:
    """A section of settings alone (SETTINGS)."""


# the --help sections, in order, and what each adds beside its settings
ARGUMENT_GROUPS = {
    "data": _no_more_arguments,
    "model": _no_more_arguments,
    "context": _context_arguments,
    "training": _training_arguments,
    "regularisation (training only)": _no_more_arguments,
    "devices and machines (JAX backend)": _devices_arguments,
    "output": _output_arguments,
}

def config_from_args(args: argparse.Namespace) -> Config:
    """The flags as a Config; a flag left out is None there, which Config fills with
    what it means at the level (and context) chosen."""
    values = {setting.name: getattr(args, setting.name) for setting in SETTINGS}
    for setting in SETTINGS:
        if setting.read is not None:
            values[setting.name] = setting.read(values[setting.name])
    return Config(**{name: value for name, value in values.items() if value is not None})


def _device_count(text: str) -> int | str:
    return text if text == "all" else cli.positive_int(text)


def check_settings(config: Config, args: argparse.Namespace) -> None:
    if config.level == "char" and args.normalisation:
        raise UsageError(
            "--normalisation is for words; characters have one rule (Unicode NFC, case, digits, punctuation "
            "and line breaks kept), so drop --normalisation with --level char"
        )
    validate(config)  # a SettingError, phrased with the flags by main()
    for split in HELD_OUT_SPLITS:
        if getattr(args, f"{split}_text") and getattr(args, f"{split}_fraction"):
            raise UsageError(f"--{split}-text is the {split} split, so no share of the corpus is held out for it; "
                             f"drop --{split}-fraction")
    # Each number's own range is checked by its flag's type (cli.py); here the rules between flags.
    if config.validation_fraction + config.test_fraction >= 0.9:
        raise UsageError("--validation-fraction and --test-fraction together must stay below 0.9, to leave "
                         "training text")
    if args.corpus is None and not Path(DEFAULT_CORPUS).exists():
        shipped = Path(__file__).resolve().parents[1] / DEFAULT_CORPUS
        example = f" (the repository's own: --corpus {shipped})" if shipped.is_dir() else ""
        raise UsageError(
            f"no --corpus given and there is no {DEFAULT_CORPUS}/ folder in {Path.cwd()}; pass --corpus "
            f"FOLDER_OR_FILE{example}"
        )


def main(argv: list[str] | None = None, *, callbacks=()) -> int:
    """`callbacks`: Keras callbacks the training runs before its own (for tests in process)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    arguments = sys.argv[1:] if argv is None else argv
    command_line = f"{PROG} {shlex.join(arguments)}".strip()
    with _stops_as_ctrl_c():
        code = cli.run_cli("word_predictor.train", lambda: _speaking_flags(lambda: _train(args, parser, command_line,
                                                                                         callbacks, arguments)))
    cluster.leave_if_stuck(code)  # a wait to join a cluster given up: JAX's exit handlers would block or abort
    return code


def _speaking_flags(body):
    """The library names settings as Config fields (SettingError); say them as flags here,
    with the exit code of a wrong command line (or the error's own, for one about the corpus),
    and say how to resume an interrupted run."""
    try:
        return body()
    except SettingError as error:
        phrased = UserError(error.phrased(FLAGS))
        phrased.exit_code = getattr(error, "exit_code", UsageError.exit_code)
        raise phrased from None
    except Interrupted as interrupted:  # the trainer's TrainingInterrupted names the run kept
        if getattr(interrupted, "run_dir", None) is None:
            raise
        command = _command("train", "--resume", interrupted.run_dir)
        raise Interrupted(f"continue from the last completed epoch with {command}") from None


@contextlib.contextmanager
def _stops_as_ctrl_c():
    """SIGTERM (a scheduler's stop) and SIGHUP (a closed terminal) end training as Ctrl-C
    does: what is done is kept, one line says how to resume."""

    def interrupt(signal_number, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    kept = {number: signal.signal(number, interrupt) for number in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in kept.items():
            signal.signal(number, handler)


def _command(name: str, *arguments) -> str:
    """A command line to copy into a shell: values quoted, and --backend when the run
    needs one that the next command would not pick by default."""
    chosen = os.environ.get("KERAS_BACKEND")
    words = [*PROG.replace("train", name).split(), *map(str, arguments)]
    if chosen and chosen != backend.DEFAULT_BACKEND:
        words += ["--backend", chosen]
    return shlex.join(words)


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser, command_line: str, callbacks=(),
           arguments=()) -> int:  # fmt: skip
    if args.from_run:
        run_dir = _train_from(args, command_line, callbacks, arguments)
    elif args.resume:
        given = [FLAGS.get(k, cli.flag_of(k)) for k, v in vars(args).items()
                 if k not in ("resume", "logdir", "no_cache", "backend", *WHERE_FLAGS)
                 and v != parser.get_default(k)]  # fmt: skip
        if given:
            raise UsageError(f"--resume takes every setting from the run; drop {' '.join(given)}")
        parallel = _start_devices(args, batch_size=None)
        from word_predictor.training import trainer

        run_dir = trainer.resume(args.resume, use_cache=not args.no_cache, callbacks=callbacks, parallel=parallel)
    else:
        config = config_from_args(args)
        check_settings(config, args)
        parallel = _start_devices(args, batch_size=config.batch_size)
        from word_predictor.training import trainer

        run_dir = trainer.train_new(config, args.logdir, args.run_name, command_line, use_cache=not args.no_cache,
                                    callbacks=callbacks, parallel=parallel)  # fmt: skip
    if run_dir is not None:  # None: a process other than 0 of several, which writes nothing
        print(f"done: {_command('predict', '--run', run_dir, DEFAULT_PROMPT)}")
    return 0


def _train_from(args: argparse.Namespace, command_line: str, callbacks, arguments) -> Path:
    """A new run from a trained one's kept weights, vocabulary and model settings (training.origin);
    every refusal comes before anything is written."""
    if args.resume:
        raise UsageError("--from starts a new run from a trained one, --resume continues an interrupted one; "
                         "give one of them")  # fmt: skip
    if args.corpus is None:
        raise UsageError("--from RUN goes on training on new text: give it with --corpus FOLDER_OR_FILE")
    if args.devices != 1 or args.coordinator is not None:
        raise UsageError("--from trains on one device; drop --devices and --coordinator")
    from word_predictor.training import origin

    begun_from, trained = origin.read_origin(args.from_run)
    config = origin.continued_settings(trained, config_from_args(args), _given_settings(arguments))
    check_settings(config, args)
    parallel = _start_devices(args, batch_size=config.batch_size)
    from word_predictor.training import trainer

    return trainer.train_new(config, args.logdir, args.run_name, command_line, use_cache=not args.no_cache,
                             callbacks=callbacks, parallel=parallel, origin=begun_from)  # fmt: skip


def _given_settings(arguments) -> set[str]:
    """The settings given on the command line, whatever their value (a setting left out is None
    once every default is)."""
    blank = build_parser()
    blank.set_defaults(**dict.fromkeys((setting.name for setting in SETTINGS), None))
    with contextlib.redirect_stderr(io.StringIO()):  # what the first reading said (an old flag's name) once
        parsed = blank.parse_args(arguments)
    return {setting.name for setting in SETTINGS if getattr(parsed, setting.name) is not None}


# Where to train, given again with --resume (a run may continue on other devices).
WHERE_FLAGS = ("devices", "coordinator", "coordinator_timeout", "num_processes", "process_id")


def _start_devices(args: argparse.Namespace, batch_size: int | None):
    """Select the backend, then join the cluster and pick the devices (training.distribute);
    every refusal comes before anything is written. Returns where to train."""
    several = args.devices != 1 or args.coordinator is not None
    if (args.num_processes is not None or args.process_id is not None) and args.coordinator is None:
        raise UsageError("--num-processes and --process-id go with --coordinator HOST:PORT (process 0's address)")
    if args.coordinator is None and args.coordinator_timeout != cluster.DEFAULT_TIMEOUT:
        raise UsageError("--coordinator-timeout goes with --coordinator")
    if args.coordinator not in (None, "auto") and (args.num_processes is None or args.process_id is None):
        raise UsageError("--coordinator HOST:PORT needs --num-processes P and --process-id I in every process")
    if args.process_id is not None and args.num_processes is not None and args.process_id >= args.num_processes:
        raise UsageError(f"--process-id must be below --num-processes ({args.num_processes})")
    if several and args.backend != "jax":
        raise UsageError(f"--devices and --coordinator train with JAX's keras.distribution, not {args.backend}; "
                         "add --backend jax")  # fmt: skip
    if several and args.histograms:
        raise UsageError("--histograms reads weights and gradients on one device; drop it with --devices or "
                         "--coordinator")  # fmt: skip
    backend.select(args.backend)
    if not several:
        from word_predictor.training.distribute import SINGLE

        return SINGLE
    from word_predictor.training import distribute

    try:
        parallel = distribute.start(args.devices, args.coordinator, args.num_processes, args.process_id,
                                    args.coordinator_timeout)  # fmt: skip
    except cluster.JoinTimeout as error:
        raise UserError(f"--coordinator: {error}; start every process, or give a longer --coordinator-timeout") \
            from None
    except cluster.JoinError as error:
        raise UserError(f"--coordinator: could not join the cluster: {error}") from None
    except ValueError as error:
        raise UsageError(f"--devices: {error}") from None
    try:
        if batch_size is not None:
            distribute.check_batch(batch_size, parallel)
    except ValueError as error:
        raise UsageError(f"--batch-size: {error}") from None
    return parallel


if __name__ == "__main__":
    sys.exit(main())
