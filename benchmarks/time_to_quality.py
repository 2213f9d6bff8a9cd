"""Benchmark 5: wall time until validation perplexity on WikiText-2 reaches a fixed target, per cell.

The trainer's own setup (defaults but the cell; corpus code, WindowBatches,
build_model, compile_model, the trainer's early stopping and learning-rate
schedule on validation loss) on ../shared/data/wikitext2-train.txt with a 10%
validation share. Every --probe-every steps (and at each epoch end) the clock
stops while evaluate.score measures perplexity on the validation split, the same
figure evaluate reports (the word after each full window). The first probe at or
under the target stops the run; its training clock (probes left out, the
trainer's per-epoch validation counted) is the time to quality.

Cells run one after another in the same process; the LSTM is the yardstick of
the ratio column.

With --yardstick pytorch, our default run against the PyTorch word-language-model
example (the recipe of benchmarks/full_context.py: 2 x 200 LSTM, bptt 35, 6 epochs)
on WikiText-2's train file (or, with --tokens N, the first N tokens of the train
and test files): the example's 6-epoch test perplexity is the target, and its
process's wall time (start, imports, training, test) the time to beat. Ours is
`python -m word_predictor.train` with the defaults and --test-text, in its own
process, timed whole from its start, with a probe that scores the test file at each
epoch end (as evaluate does; its seconds are taken out) and stops the run after the
first epoch at or under the target, so the run then ends as a user's run with that
many epochs would: the kept model scored on the test file, the run folder written.
Rounds alternate which side goes first.

    python -m benchmarks.time_to_quality --quick          # looser target, 2 cells
    python -m benchmarks.time_to_quality                  # lstm, gru, simple_rnn
    python -m benchmarks.time_to_quality --yardstick pytorch --tokens 70000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

from benchmarks import common


def time_to_target(
    cell: str, corpus, target: float, probe_every: int, max_minutes: float, extra: dict
) -> dict:
    import keras

    from word_predictor.batches import context_for
    from word_predictor.batches.windows import WindowBatches
    from word_predictor.config import Config
    from word_predictor.model.factory import build_model
    from word_predictor.model.compile import compile_model

    config = Config(cell=cell, validation_fraction=0.1, test_fraction=0.0, **extra)
    facts = corpus.facts
    keras.utils.set_random_seed(config.seed)
    model = build_model(config, facts, "training")
    compile_model(model, config)
    batches = dict(window_size=config.window_size, batch_size=config.batch_size, targets=config.targets)
    train, validation = corpus.splits["train"], corpus.splits["validation"]
    train_batches = WindowBatches(train, shuffle=True, seed=config.seed, **batches)
    validation_batches = WindowBatches(
        validation, shuffle=False, last_only=True, **batches
    )
    reader = context_for(config).reader(build_model(config, facts))
    probe = validation_probe(cell, reader, validation, target, probe_every, max_minutes)
    watched = "val_loss"
    model.fit(
        train_batches,
        validation_data=validation_batches,
        epochs=config.epochs,
        callbacks=[
            probe,
            keras.callbacks.EarlyStopping(monitor=watched, patience=config.patience, min_delta=1e-4),
            keras.callbacks.ReduceLROnPlateau(
                monitor=watched, factor=0.5, patience=0, min_lr=config.learning_rate / 64
            ),
        ],
        verbose=0,
    )
    best = min(probe.curve, key=lambda point: point[2]) if probe.curve else (math.nan, 0, math.nan)
    return {
        "cell": cell,
        "settings": extra,
        "target perplexity": target,
        "reached": probe.reached is not None,
        "seconds to target": probe.reached[0] if probe.reached else None,
        "steps to target": probe.reached[1] if probe.reached else None,
        "best perplexity seen": best[2],
        "seconds per step": probe.clock / max(probe.steps, 1),
        "curve": probe.curve,
    }


def validation_probe(cell: str, reader, validation, target: float, probe_every: int, max_minutes: float):
    """A callback that stops the clock every `probe_every` steps (and at each epoch end) to
    score `validation` through `reader` as evaluate does; the first score at or under
    `target` (or `max_minutes` of training) stops the run."""
    import keras

    from word_predictor.model.factory import copy_weights
    from word_predictor.scoring.evaluate import score

    class Probe(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.clock = 0.0
            self.started = None
            self.steps = 0
            self.curve: list[tuple[float, int, float]] = []  # (training seconds, step, perplexity)
            self.reached = None

        def _pause(self):
            self.clock += time.perf_counter() - self.started

        def _probe(self):
            self._pause()
            copy_weights(self.model, reader.model)
            perplexity = score(reader, validation)["perplexity"]
            self.curve.append((self.clock, self.steps, perplexity))
            print(f"    {cell}: {self.clock:6.1f} s, step {self.steps:5d}, "
                  f"validation perplexity {perplexity:.1f}", flush=True)  # fmt: skip
            if perplexity <= target and self.reached is None:
                self.reached = (self.clock, self.steps, perplexity)
            if self.reached or self.clock > 60 * max_minutes:
                self.model.stop_training = True
            self.started = time.perf_counter()

        def on_train_begin(self, logs=None):
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            if self.steps % probe_every == 0:
                self._probe()

        def on_epoch_end(self, epoch, logs=None):
            # After Keras' own validation pass (counted: the trainer runs it too).
            if self.steps % probe_every:
                self._probe()

    return Probe()


# ---------------------------------------------------------------- against the PyTorch example


def test_probe(run_dir: Path, target: float):
    """A callback, first of the run's: at each epoch end the test split (as the run folder
    holds it) scored as evaluate scores it; training stops after the first epoch at or under
    `target`. Its own seconds are kept in .seconds, to be taken out of the run's."""
    import keras

    from word_predictor import rundir
    from word_predictor.batches import context_for
    from word_predictor.config import facts_from, load_config
    from word_predictor.model.factory import build_model, copy_weights
    from word_predictor.scoring.evaluate import score

    class TestProbe(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.reader = self.split = self.reached = None
            self.seconds, self.curve = 0.0, []  # curve: (epoch, test perplexity)

        def on_epoch_end(self, epoch, logs=None):
            begin = time.perf_counter()
            if self.reader is None:
                config, data = load_config(run_dir / rundir.CONFIG_FILE)
                facts = facts_from(data)
                self.split = rundir.read_test_split(run_dir)
                self.reader = context_for(config).reader(build_model(config, facts))
            copy_weights(self.model, self.reader.model)
            perplexity = score(self.reader, self.split)["perplexity"]
            self.curve.append((epoch + 1, perplexity))
            if perplexity <= target and self.reached is None:
                self.reached = epoch + 1
                self.model.stop_training = True
            self.seconds += time.perf_counter() - begin

    return TestProbe()


def ours_child(spec: dict) -> None:
    """In a child process: the default run with the test probe; hands back the probe's figures."""
    from word_predictor import train

    probe = test_probe(Path(spec["logdir"]) / spec["name"], spec["target"])
    argv = ["--corpus", spec["train"], "--test-text", spec["test"], "--logdir", spec["logdir"],
            "--run-name", spec["name"], "--no-cache"]  # fmt: skip
    train.main(argv, callbacks=[probe])
    common.child_result({"probe_seconds": probe.seconds, "curve": probe.curve, "reached_epoch": probe.reached})


def run_ours(files: dict, folder: Path, name: str, target: float) -> dict:
    spec = {"train": str(files["train"]), "test": str(files["test"]), "logdir": str(folder / "logs"),
            "name": name, "target": target}  # fmt: skip
    result = common.run_child(["-m", "benchmarks.time_to_quality", "--child", json.dumps(spec)])
    if result.get("ok"):
        metrics = json.loads((folder / "logs" / name / "metrics.json").read_text())
        result["test_perplexity"] = metrics["test"]["perplexity"]
        result["wall_seconds"] -= result["probe_seconds"]
    return result


def against_pytorch(args) -> int:
    """Our default run's wall time to the PyTorch example's 6-epoch test perplexity, against the
    example's own wall time; rounds alternate which side goes first (the example first in round 1,
    for its perplexity is the target unless --target gives one)."""
    from benchmarks import full_context

    recipe = dict(full_context.RECIPE)
    rows: dict[str, list] = {"ours (defaults)": [], "PyTorch recipe": []}
    target = args.target
    with tempfile.TemporaryDirectory() as folder:
        files = full_context.data_files(args.tokens, Path(folder))
        streams = full_context.save_streams(recipe, files, Path(folder))
        for round_ in range(args.rounds):
            order = ["PyTorch recipe", "ours (defaults)"][:: 1 if round_ % 2 == 0 else -1]
            for side in order:
                print(f"round {round_ + 1}: {side}", flush=True)
                if side == "PyTorch recipe":
                    result = full_context.run_yardstick(recipe, streams)
                    target = target or result.get("test_perplexity")
                else:
                    result = run_ours(files, Path(folder), f"default-{round_}", target)
                if not result.get("ok"):
                    print(f"  failed: {result.get('error')}", flush=True)
                    continue
                print(f"  {result['wall_seconds']:.1f} s, test perplexity {result['test_perplexity']:.1f}"
                      + (f", target {target:.1f} reached at epoch {result['reached_epoch']} (probes "
                         f"{result['probe_seconds']:.1f} s, taken out)" if "probe_seconds" in result else ""),
                      flush=True)  # fmt: skip
                rows[side].append(result)
    table = []
    yardstick = [r["wall_seconds"] for r in rows["PyTorch recipe"]]
    for side, results in rows.items():
        if not results:
            continue
        walls = [r["wall_seconds"] for r in results]
        row = {"system": side, "runs": len(results), "wall s (median)": common.median(walls),
               "spread": common.spread(walls), "test perplexity (median)": common.median(
                   [r["test_perplexity"] for r in results]),
               "epochs": ", ".join(str(r.get("reached_epoch", recipe["epochs"])) for r in results)}  # fmt: skip
        if yardstick:
            row["wall / yardstick"] = row["wall s (median)"] / common.median(yardstick)
            row["per round"] = common.round_ratios(results, rows["PyTorch recipe"])
        table.append(row)
    scope = f"the first {args.tokens:,} tokens of" if args.tokens else "all of"
    common.print_table(table, ["system", "runs", "wall s (median)", "spread", "test perplexity (median)", "epochs",
                               "wall / yardstick", "per round"],
                       title=f"Wall time to test perplexity {target:.1f} (the PyTorch recipe's after "
                             f"{recipe['epochs']} epochs), {scope} WikiText-2's train and test files")  # fmt: skip
    common.save_results("time_to_quality", args, {"target": target, "tokens": args.tokens, "rows": table,
                                                  "raw": rows})  # fmt: skip
    return 0


def main(argv=None) -> int:
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--cells", nargs="+", choices=["lstm", "gru", "simple_rnn"], help="cells to time")
    parser.add_argument("--target", type=float,
                        help="perplexity to reach (default: 300 quick, 220; with --yardstick pytorch, the "
                             "example's 6-epoch test perplexity)")  # fmt: skip
    parser.add_argument("--probe-every", type=int, default=250, help="steps between validation probes")
    parser.add_argument("--max-minutes", type=float, help="give up on a cell after this much training time")
    parser.add_argument("--yardstick", choices=["lstm", "pytorch"], default="lstm",
                        help="'lstm': cells against the LSTM, in process; 'pytorch': our default run against "
                             "the PyTorch example, each in its own process")
    parser.add_argument("--tokens", type=int, default=0, metavar="N",
                        help="with --yardstick pytorch: cut the train and test files to their first N tokens "
                             "(0: whole files)")
    parser.add_argument("--rounds", type=int, default=1, help="with --yardstick pytorch: rounds of both sides")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        ours_child(json.loads(args.child))
        return 0
    if args.yardstick == "pytorch":
        return against_pytorch(args)
    cells = args.cells or (["lstm", "gru"] if args.quick else ["lstm", "gru", "simple_rnn"])
    target = args.target or (300.0 if args.quick else 220.0)
    max_minutes = args.max_minutes or (1.5 if args.quick else 6.0)

    corpus = common.corpus_of([common.data_file("wikitext2-train.txt")], normalisation="ascii",
                              validation_fraction=0.1, test_fraction=0.0)  # fmt: skip
    rows = [time_to_target(cell, corpus, target, args.probe_every, max_minutes, {}) for cell in cells]
    yardstick = next((r for r in rows if r["cell"] == "lstm" and r["reached"]), None)
    for row in rows:
        if yardstick and row["reached"]:
            row["time / lstm"] = row["seconds to target"] / yardstick["seconds to target"]
    common.print_table(
        rows,
        ["cell", "target perplexity", "reached", "seconds to target", "steps to target", "time / lstm",
         "best perplexity seen", "seconds per step"],
        title=f"Time to validation perplexity {target:g} on wikitext2-train.txt (defaults but the cell)",
    )  # fmt: skip
    common.save_results("time_to_quality", args, {"target": target, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
