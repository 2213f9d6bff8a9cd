"""Where the seconds of a short run go: the default run (`python -m word_predictor.train`)
on the first --tokens tokens of WikiText-2's train and test files, timed phase by phase.

In one process: the import of the trainer (Keras and TensorFlow), then the run itself,
with a callback that stamps the first training step, the end of the epochs and Keras'
validation passes, and cProfile over the main thread for the parts of the run's end
(the test split scored, the keyboard figures, the samples, the projector, the ONNX
export). The model's half of scoring runs in a worker thread beside the main thread's
NumPy (scoring.evaluate.read_ahead), so "test split scored" is its wall time and the
NumPy rows inside it are main-thread time.

    python -m benchmarks.timeline --tokens 70000
    python -m benchmarks.timeline --tokens 70000 --epochs 2 --profile 40
    python -m benchmarks.timeline --tokens 70000 --graph-optimiser off
"""

from __future__ import annotations

import cProfile
import pstats
import tempfile
import time
from pathlib import Path

from benchmarks import common

# (label, function name as cProfile names it, file ending): the parts of a run worth a row.
PARTS = [
    ("run's end (finish)", "finish", "training/finish.py"),
    ("  kept weights read", "load_weights", "keras/src/models/model.py"),
    ("  test split scored", "score_run", "scoring/evaluate.py"),
    ("    softmax (main thread)", "softmax", "scoring/figures.py"),
    ("    ranks (main thread)", "target_ranks", "scoring/figures.py"),
    ("    keyboard figures (main thread)", "keystrokes", "scoring/keyboard.py"),
    ("  projector", "write_projector", "monitoring/projector.py"),
    ("  ONNX export", "write_runtime", "training/finish.py"),
    ("sample tables, every call (epoch ends and the run's end)", "samples_markdown", "monitoring/samples.py"),
    ("epoch ends: validation through the run's reader", "on_epoch_end", "training/validation.py"),
    ("epoch ends: TensorBoard callbacks (samples, figures)", "on_epoch_end", "monitoring/callbacks.py"),
    ("epoch ends: checkpoint (model saves)", "on_epoch_end", "training/checkpoint.py"),
]


class Clock:
    """Stamps of the run's phases, made by a Keras callback (built lazily: Keras loads late)."""

    def __init__(self):
        self.stamps: dict[str, float] = {}
        self.validation = 0.0

    def callback(self):
        import keras

        clock = self

        class Stamps(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                clock.stamps.setdefault("fit begins", time.perf_counter())

            def on_train_batch_end(self, batch, logs=None):
                clock.stamps.setdefault("first step done", time.perf_counter())

            def on_test_begin(self, logs=None):
                self._began = time.perf_counter()

            def on_test_end(self, logs=None):
                clock.validation += time.perf_counter() - self._began

            def on_epoch_end(self, epoch, logs=None):
                clock.stamps[f"epoch {epoch + 1} ends"] = time.perf_counter()

        return Stamps()


def part_seconds(profile: cProfile.Profile) -> list[dict]:
    """Cumulative seconds of each of PARTS in `profile` (summed over same-named functions)."""
    stats = pstats.Stats(profile).stats
    rows = []
    for label, name, file_end in PARTS:
        seconds = sum(entry[3] for (file, _line, function), entry in stats.items()
                      if function == name and file.endswith(file_end))  # fmt: skip
        rows.append({"phase": label, "seconds": seconds})
    return rows


def main(argv=None) -> int:
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=70_000, help="first N tokens of the train and test files")
    parser.add_argument("--epochs", type=int, default=1, help="epochs of the run (time_to_quality's stops after 1)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also print the N functions of most cumulative time (main thread)")
    parser.add_argument("--profile-file", type=Path, help="write the cProfile statistics here (pstats format)")
    parser.add_argument("--graph-optimiser", choices=["on", "off"], default="on",
                        help="TensorFlow's graph optimiser (grappler's meta optimiser) for the whole process")
    parser.add_argument("--train-flags", default="", help="extra flags for the run, e.g. '--context full'")
    args = parser.parse_args(argv)
    begin = time.perf_counter()
    from word_predictor import train
    from word_predictor.training import trainer  # noqa: F401  (Keras and TensorFlow)

    imported = time.perf_counter()
    if args.graph_optimiser == "off":
        import tensorflow as tf

        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    clock = Clock()
    profile = cProfile.Profile()
    with tempfile.TemporaryDirectory() as folder:
        files = {name: common.first_tokens(common.data_file(f"wikitext2-{name}.txt"), args.tokens, Path(folder))
                 for name in ("train", "test")}  # fmt: skip
        argv = ["--corpus", str(files["train"]), "--test-text", str(files["test"]), "--logdir", folder,
                "--run-name", "timeline", "--no-cache", "--epochs", str(args.epochs), *args.train_flags.split()]
        started = time.perf_counter()
        profile.enable()
        code = train.main(argv, callbacks=[clock.callback()])
        profile.disable()
        ended = time.perf_counter()
    if code != 0:
        raise SystemExit(f"the run failed with exit code {code}")
    stamps = clock.stamps
    last_epoch = stamps[f"epoch {args.epochs} ends"]
    rows = [
        {"phase": "trainer imported (Keras, TensorFlow)", "seconds": imported - begin},
        {"phase": "corpus read, folder written, models built", "seconds": stamps["fit begins"] - started},
        {"phase": "first training step (trace, compile, run)", "seconds": stamps["first step done"] - stamps["fit begins"]},
        {"phase": f"the rest of {args.epochs} epoch(s), validation and epoch ends included",
         "seconds": last_epoch - stamps["first step done"]},
        {"phase": "  of which Keras' validation passes", "seconds": clock.validation},
        {"phase": "after the last epoch", "seconds": ended - last_epoch},
        *part_seconds(profile),
        {"phase": "whole run (after the import)", "seconds": ended - started},
    ]  # fmt: skip
    common.print_table(rows, ["phase", "seconds"], title=f"Default run, first {args.tokens:,} tokens of WikiText-2")
    if args.profile_file:
        profile.dump_stats(args.profile_file)
    if args.profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile)
    common.save_results("timeline", args, {"tokens": args.tokens, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
