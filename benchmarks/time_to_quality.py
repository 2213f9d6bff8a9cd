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

    python -m benchmarks.time_to_quality --quick          # looser target, 2 cells
    python -m benchmarks.time_to_quality                  # lstm, gru, simple_rnn
"""

from __future__ import annotations

import math
import time

from benchmarks import common


def time_to_target(
    cell: str, corpus, target: float, probe_every: int, max_minutes: float, extra: dict
) -> dict:
    import keras

    from word_predictor.config import Config
    from word_predictor.scoring.evaluate import score
    from word_predictor.model import NextWord
    from word_predictor.model.build import build_model
    from word_predictor.model.compile import compile_model
    from word_predictor.batches.windows import WindowBatches

    config = Config(cell=cell, validation_fraction=0.1, test_fraction=0.0, **extra)
    config.vocabulary_size = len(corpus.vocabulary)
    keras.utils.set_random_seed(config.seed)
    model = build_model(config, "training")
    compile_model(model, config)
    batches = dict(window_size=config.window_size, batch_size=config.batch_size, targets=config.targets)
    train, validation = corpus.splits["train"], corpus.splits["validation"]
    train_batches = WindowBatches(train, shuffle=True, seed=config.seed, **batches)
    validation_batches = WindowBatches(
        validation, shuffle=False, last_only=True, **batches
    )
    next_word = NextWord(model)

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
            perplexity = score(next_word, validation, config.window_size)["perplexity"]
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

    probe = Probe()
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


def main(argv=None) -> int:
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--cells", nargs="+", choices=["lstm", "gru", "simple_rnn"], help="cells to time")
    parser.add_argument("--target", type=float,
                        help="validation perplexity to reach (default: 300 quick, 220)")  # fmt: skip
    parser.add_argument("--probe-every", type=int, default=250, help="steps between validation probes")
    parser.add_argument("--max-minutes", type=float, help="give up on a cell after this much training time")
    args = parser.parse_args(argv)
    cells = args.cells or (["lstm", "gru"] if args.quick else ["lstm", "gru", "simple_rnn"])
    target = args.target or (300.0 if args.quick else 220.0)
    max_minutes = args.max_minutes or (1.5 if args.quick else 6.0)

    from word_predictor.config import Config
    from word_predictor.corpus.build import build_corpus
    from word_predictor.corpus.splits import window_block_size
    from word_predictor.text.tokenizer import ASCII_WORDS

    defaults = Config()
    corpus = build_corpus(
        [common.data_file("wikitext2-train.txt")], tokenizer=ASCII_WORDS,
        block_size=window_block_size(defaults.window_size), min_tokens=defaults.window_size + 1,
        unknown_threshold=defaults.unknown_threshold, validation_fraction=0.1, test_fraction=0.0,
    )  # fmt: skip
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
