"""Benchmark 4: prediction latency, warm in process and cold from the command line.

Warm: the default model (Config() defaults, vocabulary of wikitext2-train.txt built
by our corpus code; the weights do not change the time) asked for the next word
of one context at a time, every way we could call it, interleaved call by call so
that a slow spell of the machine hits them all alike:

    Predictor.suggest     predict.py's whole path: text -> words -> ids -> top 5
    NextWord              model.NextWord as it is (predict_on_batch)
    eager call            next_word_model(ids, training=False), no graph
    tf.function           one compiled step with an open (batch, time) signature
    tf.function + XLA     the same with jit_compile=True
    suggest + tf.function Predictor.suggest with the compiled step put in

and the same functions on batches of 1,024 contexts (evaluate's batch), in contexts
per second.

Cold: `python -m word_predictor.predict --run RUN TEXT` against
`python -c "import tensorflow"` alone, alternated, median wall times and their ratio.

    python -m benchmarks.latency --quick
    python -m benchmarks.latency [--run logs/RUN]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import common

PROMPT = "some of them looks like"


def compiled_next_word(next_word_model, jit_compile: bool = False):
    """A NextWord-like callable: (batch, time) int32 -> (batch, vocabulary), one tf.function step."""
    import tensorflow as tf

    step = tf.function(
        lambda ids: next_word_model(ids, training=False),
        input_signature=[tf.TensorSpec((None, None), tf.int32)],
        jit_compile=jit_compile,
    )
    return lambda contexts: step(tf.convert_to_tensor(contexts, tf.int32)).numpy()


def eager_next_word(next_word_model):
    import keras

    def call(contexts):
        return keras.ops.convert_to_numpy(next_word_model(contexts.astype("int32"), training=False))

    return call


# ---------------------------------------------------------------- warm


def warm(calls: int, batch_rounds: int) -> tuple[list[dict], list[dict], dict]:
    import numpy as np

    from word_predictor.config import Config
    from word_predictor.corpus import build_corpus, window_block_size
    from word_predictor.model import NextWord, build_model
    from word_predictor.predict import Predictor
    from word_predictor.rundir import Run
    from word_predictor.text import ASCII_WORDS, words
    from word_predictor.windows import context_ids

    config = Config()
    corpus = build_corpus(
        [common.data_file("wikitext2-train.txt")], tokenizer=ASCII_WORDS,
        block_size=window_block_size(config.window_size), min_tokens=config.window_size + 1,
        unknown_threshold=config.unknown_threshold, validation_fraction=config.validation_fraction,
        test_fraction=config.test_fraction,
    )  # fmt: skip
    config.vocabulary_size = len(corpus.vocabulary)
    model = build_model(config)
    predictor = Predictor(Run(Path("."), config, corpus.vocabulary, model, {}))
    compiled_predictor = Predictor(Run(Path("."), config, corpus.vocabulary, model, {}))
    compiled_predictor.next_word = compiled_next_word(predictor.next_word.model)

    # Contexts of 3 to 12 words from the test text, as an editor would send them.
    test_words = words(common.data_file("wikitext2-test.txt").read_text(encoding="utf-8"))
    rng = np.random.default_rng(0)
    texts = []
    for _ in range(calls):
        start, length = int(rng.integers(0, len(test_words) - 20)), int(rng.integers(3, 13))
        texts.append(" ".join(test_words[start : start + length]))
    id_contexts = [context_ids(words(t), corpus.vocabulary, config.window_size, pad=False) for t in texts]

    single = predictor.next_word.model
    ways = {
        "Predictor.suggest (as is: predict_on_batch)": lambda i: predictor.suggest(texts[i]),
        "NextWord (as is: predict_on_batch)": lambda i: predictor.next_word(id_contexts[i]),
        "eager call, training=False": (lambda f: lambda i: f(id_contexts[i]))(eager_next_word(single)),
        "tf.function step": (lambda f: lambda i: f(id_contexts[i]))(compiled_next_word(single)),
        "tf.function step + XLA": (lambda f: lambda i: f(id_contexts[i]))(compiled_next_word(single, True)),
        "Predictor.suggest + tf.function step": lambda i: compiled_predictor.suggest(texts[i]),
    }
    names = list(ways)
    for name in names:  # warm up: trace every context length once
        for i in range(min(40, calls)):
            ways[name](i)
    seconds = {name: [] for name in names}
    for i in range(calls):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            start = time.perf_counter()
            ways[name](i)
            seconds[name].append(time.perf_counter() - start)
    yardstick = seconds[names[1]]
    single_rows = [
        {
            "way": name,
            "p50 ms": 1000 * common.median(values),
            "p90 ms": 1000 * common.percentile(values, 90),
            "p99 ms": 1000 * common.percentile(values, 99),
            "p50 / NextWord as is": common.median(values) / common.median(yardstick),
            "calls": len(values),
        }
        for name, values in seconds.items()
    ]

    batch = np.asarray(rng.integers(1, config.vocabulary_size, (1024, config.window_size)), np.int32)
    batch_ways = {
        "NextWord (as is: predict_on_batch)": predictor.next_word,
        "eager call, training=False": eager_next_word(single),
        "tf.function step": compiled_next_word(single),
        "tf.function step + XLA": compiled_next_word(single, True),
    }
    batch_seconds = {name: [] for name in batch_ways}
    for name, way in batch_ways.items():
        way(batch)
    for number in range(batch_rounds):
        order = list(batch_ways)
        order = order[number % len(order) :] + order[: number % len(order)]
        for name in order:
            start = time.perf_counter()
            batch_ways[name](batch)
            batch_seconds[name].append(time.perf_counter() - start)
    batch_yardstick = common.median(batch_seconds["NextWord (as is: predict_on_batch)"])
    batch_rows = [
        {
            "way": name,
            "contexts/s (median)": batch.shape[0] / common.median(values),
            "ms per 1,024": 1000 * common.median(values),
            "speed / NextWord as is": batch_yardstick / common.median(values),
        }
        for name, values in batch_seconds.items()
    ]
    return single_rows, batch_rows, {"vocabulary": config.vocabulary_size, "config": config.to_dict()}


# ---------------------------------------------------------------- cold


def cold_child(run: Path, way: str) -> None:
    """`python -m word_predictor.predict` in this process, with NextWord's call swapped for `way`."""
    from word_predictor import model as model_module
    from word_predictor import predict

    if way != "as-is":
        original_init = model_module.NextWord.__init__

        def init(self, model):
            original_init(self, model)
            self._call = eager_next_word(self.model) if way == "eager" else compiled_next_word(self.model)

        model_module.NextWord.__init__ = init
        model_module.NextWord.__call__ = lambda self, contexts: self._call(contexts)
    raise SystemExit(predict.main(["--run", str(run), PROMPT]))


def cold(run: Path, rounds: int) -> list[dict]:
    child = [sys.executable, "-m", "benchmarks.latency", "--cold-child", str(run)]
    commands = {
        'python -c "import tensorflow"': [sys.executable, "-c", "import tensorflow"],
        "python -m word_predictor.predict (as is)": [
            sys.executable, "-m", "word_predictor.predict", "--run", str(run), PROMPT],
        "predict with an eager call": [*child, "eager"],
        "predict with a tf.function step": [*child, "compiled"],
    }  # fmt: skip
    seconds = {name: [] for name in commands}
    names = list(commands)
    for number in range(rounds):
        for name in names[number % len(names) :] + names[: number % len(names)]:
            start = time.perf_counter()
            done = subprocess.run(commands[name], cwd=common.REPO, capture_output=True, text=True)
            seconds[name].append(time.perf_counter() - start)
            if done.returncode != 0:
                raise SystemExit(f"{name} failed:\n{done.stderr[-2000:]}")
    yardstick = seconds[names[0]]
    return [
        {
            "command": name,
            "median s": common.median(values),
            "range": common.spread(values),
            "/ import tensorflow (median of per-round ratios)": statistics.median(
                a / b for a, b in zip(values, yardstick)
            ),
            "runs": len(values),
        }
        for name, values in seconds.items()
    ]


def make_run(logdir: Path) -> Path:
    """A real run folder with the default model on wikitext2-train.txt, after a few steps only."""
    code = common.train_capped(
        ["--corpus", str(common.data_file("wikitext2-train.txt")), "--logdir", str(logdir),
         "--run-name", "latency", "--epochs", "1"],
        max_steps=5,
    )  # fmt: skip
    if code != 0:
        raise SystemExit("could not train the run for the cold benchmark")
    return logdir / "latency"


def main(argv=None) -> int:
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, help="run folder for the cold runs (default: train one, 5 steps)")
    parser.add_argument("--calls", type=int, help="single-context calls per way (default: 200 quick, 1000)")
    parser.add_argument("--cold-rounds", type=int, help="cold starts per command (default: 3 quick, 7 full)")
    parser.add_argument("--cold-child", nargs=2, metavar=("RUN", "WAY"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cold_child:
        cold_child(Path(args.cold_child[0]), args.cold_child[1])
        return 0
    calls = args.calls or (200 if args.quick else 1000)
    cold_rounds = args.cold_rounds or (3 if args.quick else 7)

    single_rows, batch_rows, info = warm(calls, batch_rounds=5 if args.quick else 15)
    common.print_table(
        single_rows, ["way", "p50 ms", "p90 ms", "p99 ms", "p50 / NextWord as is", "calls"],
        title=f"Warm single-context latency, default model, vocabulary {info['vocabulary']:,}",
    )  # fmt: skip
    common.print_table(batch_rows, ["way", "contexts/s (median)", "ms per 1,024", "speed / NextWord as is"],
                       title="Batched contexts (1,024 contexts of 5 words)")  # fmt: skip
    with tempfile.TemporaryDirectory() as logdir:
        run = args.run or make_run(Path(logdir))
        cold_rows = cold(run, cold_rounds)
    common.print_table(
        cold_rows,
        ["command", "median s", "range", "/ import tensorflow (median of per-round ratios)", "runs"],
        title="Cold start: one prediction from the command line",
    )  # fmt: skip
    common.save_results(
        "latency", args,
        {**info, "single": single_rows, "batched": batch_rows, "cold": cold_rows, "calls": calls},
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
