"""Benchmark 4: prediction latency, warm in process and cold from the command line,
and the throughput of `predict --input`.

Warm: the default model (Config() defaults, vocabulary of wikitext2-train.txt built
by our corpus code; the weights do not change the time) asked for the next word
of one context at a time, every way we could call it, interleaved call by call so
that a slow spell of the machine hits them all alike:

    Predictor.suggest        predict.py's whole path: text -> words -> ids -> top 5
    reader.start             the window reader as it is (predict_on_batch)
    eager call               inference_model(ids, training=False), no graph
    tf.function              one compiled step with an open (batch, time) signature
    tf.function + XLA        the same with jit_compile=True
    suggest + tf.function    Predictor.suggest on a model whose predict_on_batch is that step

and the same functions on batches of 1,024 contexts (evaluate's batch), in contexts
per second.

Cold: `python -m word_predictor.predict --run RUN TEXT` against
`python -c "import tensorflow"` alone, alternated, median wall times and their ratio
(a run answers through the runtime when it can, so the ratio is the start-up a user
waits for against what Keras' import alone would cost). `--cold-only` measures just this.

--input: contexts per second of one `predict --input FILE` process over --lines
contexts, against one `predict` process per context (a few are enough for the
yardstick), alternated round by round; medians and their ratio.

    python -m benchmarks.latency --quick
    python -m benchmarks.latency [--run logs/RUN]
    python -m benchmarks.latency --cold-only --cold-rounds 5 [--run logs/RUN]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import common

PROMPT = "some of them looks like"


def compiled_step(inference_model, jit_compile: bool = False):
    """(batch, time) int32 -> (batch, vocabulary) logits, one tf.function step."""
    import tensorflow as tf

    step = tf.function(
        lambda ids: inference_model(ids, training=False),
        input_signature=[tf.TensorSpec((None, None), tf.int32)],
        jit_compile=jit_compile,
    )
    return lambda contexts: step(tf.convert_to_tensor(contexts, tf.int32)).numpy()


def eager_step(inference_model):
    import keras

    def call(contexts):
        return keras.ops.convert_to_numpy(inference_model(contexts.astype("int32"), training=False))

    return call


class CompiledModel:
    """Stands in for the inference model where a reader calls `predict_on_batch`."""

    def __init__(self, step):
        self.predict_on_batch = step


def test_contexts(count: int, seed: int = 0) -> list[str]:
    """Contexts of 3 to 12 words from the test text, as an editor would send them."""
    import numpy as np

    from word_predictor.text.tokenizer import words

    test_words = words(common.data_file("wikitext2-test.txt").read_text(encoding="utf-8"))
    rng = np.random.default_rng(seed)
    texts = []
    for _ in range(count):
        start, length = int(rng.integers(0, len(test_words) - 20)), int(rng.integers(3, 13))
        texts.append(" ".join(test_words[start : start + length]))
    return texts


# ---------------------------------------------------------------- warm


def warm(calls: int, batch_rounds: int) -> tuple[list[dict], list[dict], dict]:
    from word_predictor.config import Config
    from word_predictor.model.factory import build_model
    from word_predictor.predictor.predictor import Predictor
    from word_predictor.batches.windows import crop_context

    config = Config()
    corpus = common.corpus_of([common.data_file("wikitext2-train.txt")], normalisation="ascii")
    facts = corpus.facts
    model = build_model(config, facts)
    predictor = Predictor.for_model(model, config, corpus.vocabulary)
    compiled_predictor = Predictor.for_model(CompiledModel(compiled_step(model)), config, corpus.vocabulary)

    texts = test_contexts(calls)
    contexts = [crop_context(corpus.vocabulary.encode(predictor.tokenize(t)), config.window_size, pad=False)
                for t in texts]  # fmt: skip
    batches = [c[None, :] for c in contexts]  # (1, time) each
    ways = {
        "Predictor.suggest (as is: predict_on_batch)": lambda i: predictor.suggest(texts[i]),
        "reader.start (as is: predict_on_batch)": lambda i: predictor.reader.start([contexts[i]]),
        "eager call, training=False": (lambda f: lambda i: f(batches[i]))(eager_step(model)),
        "tf.function step": (lambda f: lambda i: f(batches[i]))(compiled_step(model)),
        "tf.function step + XLA": (lambda f: lambda i: f(batches[i]))(compiled_step(model, True)),
        "Predictor.suggest + tf.function step": lambda i: compiled_predictor.suggest(texts[i]),
    }
    return single_call_rows(ways, calls), batch_rows(model, config, facts, batch_rounds), {
        "vocabulary": facts.vocabulary_size, "config": config.to_dict()}  # fmt: skip


def single_call_rows(ways: dict, calls: int) -> list[dict]:
    """Each way of answering one context, called `calls` times in a rotated order; the
    reader as is (the second way) is the yardstick."""
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
    return [
        {
            "way": name,
            "p50 ms": 1000 * common.median(values),
            "p90 ms": 1000 * common.percentile(values, 90),
            "p99 ms": 1000 * common.percentile(values, 99),
            "p50 / reader as is": common.median(values) / common.median(yardstick),
            "calls": len(values),
        }
        for name, values in seconds.items()
    ]


def batch_rows(model, config, facts, batch_rounds: int) -> list[dict]:
    """Each way of answering a batch of 1,024 contexts, `batch_rounds` times in a rotated order."""
    import numpy as np

    batch = np.random.default_rng(0).integers(1, facts.vocabulary_size, (1024, config.window_size)).astype(np.int32)
    batch_ways = {
        "predict_on_batch (as is)": model.predict_on_batch,
        "eager call, training=False": eager_step(model),
        "tf.function step": compiled_step(model),
        "tf.function step + XLA": compiled_step(model, True),
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
    batch_yardstick = common.median(batch_seconds["predict_on_batch (as is)"])
    return [
        {
            "way": name,
            "contexts/s (median)": batch.shape[0] / common.median(values),
            "ms per 1,024": 1000 * common.median(values),
            "speed / as is": batch_yardstick / common.median(values),
        }
        for name, values in batch_seconds.items()
    ]


# ---------------------------------------------------------------- cold


def cold(run: Path, rounds: int) -> list[dict]:
    commands = {
        'python -c "import tensorflow"': [sys.executable, "-c", "import tensorflow"],
        "python -m word_predictor.predict --run RUN": [
            sys.executable, "-m", "word_predictor.predict", "--run", str(run), PROMPT],
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


def input_throughput(run: Path, lines: int, per_line: int, rounds: int) -> tuple[list[dict], float]:
    """Contexts per second: one `predict --input FILE` over `lines` contexts against
    `per_line` separate `predict TEXT` processes, alternated round by round."""
    texts = test_contexts(lines, seed=1)
    predict = [sys.executable, "-m", "word_predictor.predict", "--run", str(run)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "contexts.txt"
        path.write_text("\n".join(texts) + "\n", encoding="utf-8")
        batched: list[float] = []  # contexts per second, one figure per round
        separate: list[float] = []
        for number in range(rounds):
            for way in ("input", "separate") if number % 2 == 0 else ("separate", "input"):
                if way == "input":
                    start = time.perf_counter()
                    done = subprocess.run([*predict, "--input", str(path)], cwd=common.REPO, capture_output=True,
                                          text=True)  # fmt: skip
                    seconds = time.perf_counter() - start
                    if done.returncode != 0 or len(done.stdout.splitlines()) != lines:
                        raise SystemExit(f"predict --input failed:\n{done.stderr[-2000:]}")
                    batched.append(lines / seconds)
                else:
                    start = time.perf_counter()
                    for text in texts[number * per_line : (number + 1) * per_line]:
                        done = subprocess.run([*predict, text], cwd=common.REPO, capture_output=True, text=True)
                        if done.returncode != 0:
                            raise SystemExit(f"predict failed:\n{done.stderr[-2000:]}")
                    separate.append(per_line / (time.perf_counter() - start))
    rows = [
        {"way": f"one predict --input process, {lines:,} contexts", "contexts/s (median)": common.median(batched),
         "range": common.spread(batched), "rounds": rounds},
        {"way": f"one predict process per context ({per_line} per round)",
         "contexts/s (median)": common.median(separate), "range": common.spread(separate), "rounds": rounds},
    ]  # fmt: skip
    return rows, common.median(batched) / common.median(separate)


def make_run(logdir: Path) -> Path:
    """A real run folder: the default model trained for one epoch on the shipped corpus."""
    from word_predictor import train

    argv = ["--corpus", str(common.REPO / "corpus"), "--logdir", str(logdir), "--run-name", "latency", "--epochs", "1"]
    if train.main(argv) != 0:
        raise SystemExit("could not train the run for the cold benchmark")
    return logdir / "latency"


def main(argv=None) -> int:
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path,
                        help="run folder for the cold and --input runs (default: train one, one epoch on corpus/)")
    parser.add_argument("--calls", type=int, help="single-context calls per way (default: 200 quick, 1000)")
    parser.add_argument("--cold-rounds", type=int, help="cold starts per command (default: 3 quick, 7 full)")
    parser.add_argument("--cold-only", action="store_true",
                        help="only the cold start: predict on a run against import tensorflow")
    parser.add_argument("--lines", type=int, help="contexts in the --input file (default: 1,000 quick, 10,000)")
    parser.add_argument("--input-rounds", type=int, help="rounds of the --input comparison (default: 3 quick, 5)")
    args = parser.parse_args(argv)
    cold_rounds = args.cold_rounds or (3 if args.quick else 7)
    if args.cold_only:
        with tempfile.TemporaryDirectory() as logdir:
            cold_rows = print_cold(args.run or make_run(Path(logdir)), cold_rounds)
        common.save_results("latency", args, {"cold": cold_rows})
        return 0
    calls = args.calls or (200 if args.quick else 1000)
    lines = args.lines or (1_000 if args.quick else 10_000)
    input_rounds = args.input_rounds or (3 if args.quick else 5)

    single_rows, batch_rows, info = warm(calls, batch_rounds=5 if args.quick else 15)
    common.print_table(
        single_rows, ["way", "p50 ms", "p90 ms", "p99 ms", "p50 / reader as is", "calls"],
        title=f"Warm single-context latency, default model, vocabulary {info['vocabulary']:,}",
    )  # fmt: skip
    common.print_table(batch_rows, ["way", "contexts/s (median)", "ms per 1,024", "speed / as is"],
                       title="Batched contexts (1,024 contexts of 5 words)")  # fmt: skip
    with tempfile.TemporaryDirectory() as logdir:
        run = args.run or make_run(Path(logdir))
        cold_rows = print_cold(run, cold_rounds)
        input_rows, input_ratio = input_throughput(run, lines, per_line=3, rounds=input_rounds)
    common.print_table(input_rows, ["way", "contexts/s (median)", "range", "rounds"],
                       title="predict --input against one process per context")  # fmt: skip
    print(f"\n--input / one process per context: {input_ratio:,.0f}x the contexts per second")
    common.save_results(
        "latency", args,
        {**info, "single": single_rows, "batched": batch_rows, "cold": cold_rows, "calls": calls,
         "input": input_rows, "input_ratio": input_ratio, "lines": lines},
    )  # fmt: skip
    return 0


def print_cold(run: Path, rounds: int) -> list[dict]:
    rows = cold(run, rounds)
    common.print_table(
        rows, ["command", "median s", "range", "/ import tensorflow (median of per-round ratios)", "runs"],
        title="Cold start: one prediction from the command line",
    )  # fmt: skip
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
