"""Benchmark 1 and the training levers: targets per second, ours against plain PyTorch.

One fixed size (2 layers x 256 units, embedding 256, batch 128, chunk 5, dropout 0.3,
Adam with clipping) on ../shared/data/wikitext2-train.txt, vocabulary from the
project's own corpus code (unknown threshold 3, 4,703 words).

    ours       word_predictor.model.build_model + compile_model, Model.fit on
               windows.WindowBatches (the trainer's own path), optionally with one lever
    reference  the same network in plain PyTorch (benchmarks/reference.py: nn.Embedding,
               nn.LSTM/GRU with inter-layer dropout, nn.Linear), with Adam and
               clip_grad_norm_, fed the same WindowBatches arrays, in a plain Python loop

Both sides count TARGETS per second: a many-to-many step ("all") scores
batch x chunk targets, a many-to-one step ("last") scores batch targets.

Each side runs in its own long-lived worker process, so TensorFlow's and PyTorch's
thread pools never share a process: one worker for all of ours, one PyTorch worker
per thread count (--torch-threads; PyTorch's OpenMP threads suffer badly when
another process takes a core, one thread is often faster on a busy 2-core machine).
Every variant is built and warmed up first, then timed in rounds: each round runs
every variant once, in a rotated order, for the same number of steps, so slow
spells of the shared machine hit all of them alike. A round's figure is targets
per step over the MEDIAN step time (a step that another process delayed does not
count). The yardstick of each round is the FASTER of the PyTorch thread counts in
that round (the stricter comparison for us); levers are also compared with ours
as it is, round by round.

    python -m benchmarks.throughput --quick
    python -m benchmarks.throughput                       # LSTM and GRU, many-to-many and many-to-one
    python -m benchmarks.throughput --levers              # also the lever variants, per cell (many-to-many)
    python -m benchmarks.throughput --levers --cells lstm gru --targets all --only jit unroll bfloat16
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field

from benchmarks import common

SIZE = dict(layers=2, units=256, embedding_dim=256, batch_size=128, window_size=5, dropout=0.3)
REPLY = "WORKER-REPLY "


@dataclass
class Variant:
    name: str
    side: str  # "ours" or "reference"
    cell: str
    targets: str  # "all" (many-to-many) or "last" (many-to-one)
    batch_size: int = 128
    threads: int = 0  # PyTorch threads (0: its default)
    jit_compile: bool | str = "auto"
    steps_per_execution: int = 1
    pipeline: str = "pydataset"  # or "tf.data"
    metrics: str = "ours"  # "ours" (accuracy + top-5), "accuracy", "none"
    unroll: bool = False
    precision: str = "float32"  # Keras dtype policy while the model is built, e.g. "mixed_bfloat16"
    throughputs: list = field(default_factory=list)  # per round, from the median step
    wall_throughputs: list = field(default_factory=list)  # per round, from the mean step

    @property
    def worker(self) -> str:
        return "ours" if self.side == "ours" else f"pytorch-{self.threads}"


def load_train_split(window_size: int):
    corpus = common.corpus_of([common.data_file("wikitext2-train.txt")], normalisation="ascii",
                              window_size=window_size, unknown_threshold=3, validation_fraction=0.0,
                              test_fraction=0.0)  # fmt: skip
    return corpus.vocabulary, corpus.splits["train"]


# ---------------------------------------------------------------- ours, with levers (in the worker)


def compile_with(model, config, **levers) -> None:
    """compile_model(model, config) with extra Model.compile arguments (the lever under test)."""
    from word_predictor.model.compile import compile_model

    original = model.compile
    model.compile = lambda **kwargs: original(**{**kwargs, **levers})
    try:
        compile_model(model, config)
    finally:
        del model.compile


def tf_data_batches(split, config, seed: int = 0):
    """The same windows as WindowBatches, but cut and gathered inside TensorFlow (no Python per batch).

    Memory stays O(tokens): the ids and one int64 start per window, reshuffled
    as a whole each pass; batches are rows of the shuffled starts.
    """
    import tensorflow as tf

    from word_predictor.batches.windows import window_starts

    ids, starts = split.ids, window_starts(split.bounds, config.window_size)
    batch = config.batch_size
    full = starts.size // batch * batch
    ids_t = tf.constant(ids)
    offsets = tf.range(config.window_size + 1, dtype=tf.int64)

    def epoch_of_batches(all_starts):
        shuffled = tf.random.shuffle(all_starts, seed=seed)[:full]
        return tf.data.Dataset.from_tensor_slices(tf.reshape(shuffled, (-1, batch)))

    def gather(batch_starts):  # (batch,) -> (batch, chunk), (batch, chunk) or (batch,)
        window = tf.gather(ids_t, batch_starts[:, None] + offsets)
        if config.targets == "last":
            return window[:, :-1], window[:, -1]
        return window[:, :-1], window[:, 1:]

    return (
        tf.data.Dataset.from_tensors(tf.constant(starts))
        .repeat()
        .flat_map(epoch_of_batches)
        .map(gather, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def rebuilt(model, unroll_window_size: int | None):
    """The same model, its output layer in float32 (needed under a mixed precision policy:
    the top-5 metric takes no bfloat16), and with `unroll_window_size` a fixed time axis
    and unrolled recurrent layers."""
    import keras

    from word_predictor.model.layers import OUTPUT_LAYER

    def clone_layer(layer):
        config = layer.get_config()
        if isinstance(layer, keras.layers.RNN) and unroll_window_size:
            config["unroll"] = True
        if layer.name == OUTPUT_LAYER:
            config["dtype"] = "float32"
        return layer.__class__.from_config(config)

    tokens = keras.Input(shape=(unroll_window_size,), dtype="int32", name="tokens")
    return keras.models.clone_model(model, input_tensors=tokens, clone_function=clone_layer)


class OursBench:
    def __init__(self, variant: Variant, split, vocabulary_size: int):
        import keras

        from word_predictor.config import Config, CorpusFacts
        from word_predictor.model.factory import build_model
        from word_predictor.batches.windows import WindowBatches

        class StepClock(keras.callbacks.Callback):
            """Times of batch ends; with steps_per_execution k Keras reports every k-th step."""

            def on_train_begin(self, logs=None):
                self.marks = []

            def on_train_batch_end(self, batch, logs=None):
                self.marks.append((batch, time.perf_counter()))

        self.variant = variant
        config = Config(cell=variant.cell, targets=variant.targets, **{**SIZE, "batch_size": variant.batch_size})
        keras.utils.set_random_seed(0)
        keras.mixed_precision.set_dtype_policy(variant.precision)
        try:
            model = build_model(config, CorpusFacts(vocabulary_size=vocabulary_size), "training")
            if variant.unroll or variant.precision != "float32":
                model = rebuilt(model, config.window_size if variant.unroll else None)
        finally:
            keras.mixed_precision.set_dtype_policy("float32")
        extra = {}
        if variant.metrics != "ours":
            extra["weighted_metrics"] = (
                [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
                if variant.metrics == "accuracy"
                else None
            )
        compile_with(
            model, config,
            jit_compile=variant.jit_compile, steps_per_execution=variant.steps_per_execution, **extra,
        )  # fmt: skip
        self.model = model
        if variant.pipeline == "tf.data":
            self.data = tf_data_batches(split, config)
        else:
            self.data = WindowBatches(
                split, shuffle=True, window_size=config.window_size,
                batch_size=variant.batch_size, targets=variant.targets,
            )  # fmt: skip
        self.targets_per_step = variant.batch_size * (config.window_size if variant.targets == "all" else 1)
        self.clock = StepClock()

    def run(self, steps: int) -> tuple[float, float]:
        # One execution more than timed: the first execution of a fit() call starts
        # the input pipeline and is left out, as the reference's first step is.
        k = self.variant.steps_per_execution
        steps = math.ceil(steps / k + 1) * k
        self.model.fit(self.data, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[self.clock])
        marks = self.clock.marks
        step_seconds = [(t1 - t0) / (b1 - b0) for (b0, t0), (b1, t1) in zip(marks, marks[1:])]
        mean = (marks[-1][1] - marks[0][1]) / (marks[-1][0] - marks[0][0])
        return self.targets_per_step / common.median(step_seconds), self.targets_per_step / mean


# ---------------------------------------------------------------- the PyTorch reference (in its worker)


class TorchBench:
    def __init__(self, variant: Variant, split, vocabulary_size: int):
        import numpy as np
        import torch
        from torch import nn

        from benchmarks.reference import LanguageModel
        from word_predictor.batches.windows import WindowBatches

        torch.manual_seed(0)
        last = variant.targets == "last"
        self.np, self.torch = np, torch
        # (batch, chunk) -> (batch, chunk, vocab), or (batch, vocab) for the last step only
        self.model = LanguageModel(vocabulary_size, SIZE["embedding_dim"], SIZE["units"], SIZE["layers"],
                                   SIZE["dropout"], variant.cell, batch_first=True, last_only=last)  # fmt: skip
        self.model.train()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=0.005)
        self.loss = nn.CrossEntropyLoss()
        self.data = WindowBatches(
            split, window_size=SIZE["window_size"], batch_size=variant.batch_size,
            targets=variant.targets, shuffle=True,
        )  # fmt: skip
        self.vocabulary_size = vocabulary_size
        self.targets_per_step = variant.batch_size * (SIZE["window_size"] if not last else 1)
        self.next_batch = 0

    def step(self) -> None:
        torch, np = self.torch, self.np
        inputs, targets = self.data[self.next_batch % (len(self.data) - 1)][:2]
        self.next_batch += 1
        inputs = torch.from_numpy(inputs.astype(np.int64))
        targets = torch.from_numpy(targets.astype(np.int64))
        self.optimizer.zero_grad(set_to_none=True)
        logits, _ = self.model(inputs)
        loss = self.loss(logits.reshape(-1, self.vocabulary_size), targets.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        loss.item()  # read the loss back every step, as Keras does

    def run(self, steps: int) -> tuple[float, float]:
        self.step()  # left out, as ours leaves out the first execution of each fit()
        step_seconds = []
        for _ in range(steps):
            start = time.perf_counter()
            self.step()
            step_seconds.append(time.perf_counter() - start)
        mean = sum(step_seconds) / len(step_seconds)
        return self.targets_per_step / common.median(step_seconds), self.targets_per_step / mean


# ---------------------------------------------------------------- workers


def worker(kind: str, threads: int) -> None:
    """Serve setup/run requests, one JSON line each, on stdin/stdout."""
    if kind == "pytorch":
        import torch

        if threads:
            torch.set_num_threads(threads)
    vocabulary, split = load_train_split(SIZE["window_size"])
    benches = {}

    def reply(**message):
        print(REPLY + json.dumps(message), flush=True)

    reply(ready=True, vocabulary=len(vocabulary), tokens=split.token_count)
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "setup":
            variant = Variant(**request["variant"])
            start = time.perf_counter()
            bench = (OursBench if kind == "ours" else TorchBench)(variant, split, len(vocabulary))
            bench.run(request["warmup"])
            benches[variant.name] = bench
            reply(seconds=time.perf_counter() - start)
        elif request["op"] == "run":
            by_median, by_mean = benches[request["name"]].run(request["steps"])
            reply(by_median=by_median, by_mean=by_mean)
        else:
            return


class Worker:
    def __init__(self, key: str, log):
        kind, _, threads = key.partition("-")
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        if kind == "pytorch":
            # Keras on its torch backend: WindowBatches without TensorFlow in the process.
            env["KERAS_BACKEND"] = "torch"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.throughput", "--worker", kind, "--threads", threads or "0"],
            cwd=common.REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=env,
        )  # fmt: skip
        self.info = self.receive()

    def receive(self) -> dict:
        for line in self.process.stdout:
            if line.startswith(REPLY):
                return json.loads(line[len(REPLY) :])
        raise RuntimeError("a benchmark worker stopped; see its log above")

    def ask(self, **request) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self.receive()

    def close(self) -> None:
        try:
            self.ask(op="quit")
        except (RuntimeError, BrokenPipeError):
            pass
        self.process.wait(timeout=60)


# ---------------------------------------------------------------- the suite


def variants(cells: list[str], targets: list[str], levers: bool, torch_threads: list[int]) -> list[Variant]:
    chosen = []
    for cell in cells:
        for target in targets:
            for threads in torch_threads:
                chosen.append(Variant(f"pytorch {cell} {target} threads={threads or 'default'}", "reference",
                                      cell, target, threads=threads))  # fmt: skip
            chosen.append(Variant(f"ours {cell} {target}", "ours", cell, target))
    for cell in cells if levers else []:
        target = "all"

        def ours(label, **levers_):
            return Variant(f"ours {cell} {target} {label}", "ours", cell, target, **levers_)

        chosen += [
            ours("jit_compile=True", jit_compile=True),
            ours("steps_per_execution=16", steps_per_execution=16),
            ours("tf.data", pipeline="tf.data"),
            ours("tf.data + steps_per_execution=16", pipeline="tf.data", steps_per_execution=16),
            ours("no top-5 metric", metrics="accuracy"),
            ours("no metrics", metrics="none"),
            ours("unroll", unroll=True),
            ours("unroll + tf.data + steps_per_execution=16",
                 unroll=True, pipeline="tf.data", steps_per_execution=16),  # fmt: skip
            ours("jit_compile=True + unroll", jit_compile=True, unroll=True),
            ours("mixed_bfloat16", precision="mixed_bfloat16"),
            ours("mixed_bfloat16 + jit_compile=True", precision="mixed_bfloat16", jit_compile=True),
            ours("batch 512", batch_size=512),
        ]
    return chosen


def build_parser():
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru"], choices=["lstm", "gru", "simple_rnn"])
    parser.add_argument("--targets", nargs="+", default=["all", "last"], choices=["all", "last"],
                        help="many-to-many (all) and/or many-to-one (last)")  # fmt: skip
    parser.add_argument("--torch-threads", type=int, nargs="+", default=[1, 2],
                        help="PyTorch thread counts to time (0: its default); the faster is the yardstick",
                        )  # fmt: skip
    parser.add_argument("--levers", action="store_true",
                        help="also time the lever variants (many-to-many, each cell)")
    parser.add_argument("--only", nargs="+", metavar="TEXT",
                        help="keep the references, ours as is and variants whose name holds one of these")
    parser.add_argument("--rounds", type=int, help="timed rounds (default: 3 quick, 5 full)")
    parser.add_argument("--steps", type=int, help="timed steps per variant per round (default: 12 quick, 30)")
    parser.add_argument("--worker", choices=["ours", "pytorch"], help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    return parser


def time_rounds(chosen: list[Variant], workers: dict, rounds: int, steps: int) -> None:
    """Set every variant up in its worker, then time `rounds` rounds of `steps` steps each,
    every variant once a round in a rotated order; the figures go into the variants."""
    for variant in chosen:
        spec = {k: v for k, v in asdict(variant).items() if k not in ("throughputs", "wall_throughputs")}
        answer = workers[variant.worker].ask(op="setup", variant=spec, warmup=max(3, steps // 3))
        print(f"  ready: {variant.name} ({answer['seconds']:.1f} s)", flush=True)
    for number in range(rounds):
        rotation = number % len(chosen)
        for variant in chosen[rotation:] + chosen[:rotation]:
            answer = workers[variant.worker].ask(op="run", name=variant.name, steps=steps)
            variant.throughputs.append(answer["by_median"])
            variant.wall_throughputs.append(answer["by_mean"])
        print(f"  round {number + 1}/{rounds} done", flush=True)


def row_of(variant: Variant, chosen: list[Variant]) -> dict:
    """A variant's figures, with its ratios to the faster PyTorch of each round and to ours as is."""
    references = [v for v in chosen if v.side == "reference" and v.cell == variant.cell
                  and v.targets == variant.targets and v.batch_size == 128]  # fmt: skip
    yardstick = [max(values) for values in zip(*(v.throughputs for v in references))]
    ours_as_is = next((v for v in chosen if v.name == f"ours {variant.cell} {variant.targets}"), None)
    row = {
        "variant": variant.name,
        "side": variant.side,
        "cell": variant.cell,
        "task": "many-to-many" if variant.targets == "all" else "many-to-one",
        "batch": variant.batch_size,
        "targets/s (median)": common.median(variant.throughputs),
        "range": common.spread(variant.throughputs),
        "targets/s from mean step": common.median(variant.wall_throughputs),
        "throughputs": variant.throughputs,
        "wall_throughputs": variant.wall_throughputs,
    }
    if yardstick:
        ratios = [a / b for a, b in zip(variant.throughputs, yardstick)]
        row["/ fastest pytorch"] = common.median(ratios)
        row["ratios to fastest pytorch"] = ratios
    if ours_as_is is not None and variant.side == "ours":
        ratios = [a / b for a, b in zip(variant.throughputs, ours_as_is.throughputs)]
        row["/ ours as is"] = common.median(ratios)
        row["ratios to ours as is"] = ratios
    return row


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker:
        worker(args.worker, args.threads)
        return 0
    rounds = args.rounds or (3 if args.quick else 5)
    steps = args.steps or (12 if args.quick else 30)
    if args.quick and not args.levers:
        args.cells, args.targets = args.cells[:1], args.targets[:1]

    chosen = variants(args.cells, args.targets, args.levers, args.torch_threads)
    if args.only:
        chosen = [v for v in chosen if v.side == "reference" or v.name == f"ours {v.cell} {v.targets}"
                  or any(text in v.name for text in args.only)]  # fmt: skip
    log = tempfile.NamedTemporaryFile("w+", prefix="throughput-workers-", suffix=".log", delete=False)
    workers = {key: Worker(key, log) for key in dict.fromkeys(v.worker for v in chosen)}
    info = next(iter(workers.values())).info
    print(f"{len(chosen)} variants in {len(workers)} worker processes, vocabulary {info['vocabulary']:,}, "
          f"{info['tokens']:,} training tokens; {rounds} rounds of {steps} steps (worker log: {log.name})",
          flush=True)  # fmt: skip
    try:
        time_rounds(chosen, workers, rounds, steps)
    finally:
        for process in workers.values():
            process.close()

    rows = [row_of(variant, chosen) for variant in chosen]
    common.print_table(
        rows,
        ["variant", "task", "batch", "targets/s (median)", "range", "targets/s from mean step",
         "/ fastest pytorch", "/ ours as is"],
        title=f"Training throughput, {SIZE}, vocabulary {info['vocabulary']:,}; "
        "ratios are medians of per-round ratios",
    )  # fmt: skip
    common.save_results(
        "throughput", args,
        {"size": SIZE, "vocabulary": info["vocabulary"], "rounds": rounds, "steps": steps, "rows": rows},
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
