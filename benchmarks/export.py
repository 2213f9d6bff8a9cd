"""Benchmark: an exported ONNX model through word_predictor.runtime against the Keras run it
came from, in one invocation (medians of rounds that alternate the two):

    cold start     `predict --run EXPORT TEXT` (runtime only) / `predict --run RUN TEXT`,
                   each a fresh process; goal <= 0.25x. Also each process's peak memory.
    warm latency   one suggestion after 5 words of context (another 5 each call), this process pinned to one CPU
                   core (ONNX Runtime with one thread): runtime Predictor.suggest against
                   the Keras Predictor.suggest; goal p50 <= 1 ms
    evaluate       tokens/s of evaluate's scoring (evaluate.score_run) over the WikiText-2
                   test file, runtime / Keras; goal >= 1.0x
    size on disk   model.keras against model.onnx, model.tflite and saved_model/

The cold start and the sizes use a real run (the default model, one epoch on corpus/, or
--run); the warm and evaluate figures use the default model on WikiText-2's vocabulary
(the weights do not change the time), exported with the exporter's own code.

    python -m benchmarks.export --quick
    python -m benchmarks.export [--run logs/RUN]
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks import common

PROMPT = "some of them looks like"  # 5 words of context
# The peak is VmHWM, this process image's own high-water mark: ru_maxrss survives exec on
# Linux, so a child of this (large, Keras-loaded) benchmark would report the parent's peak.
PEAK_CHILD = """
import runpy, sys
sys.argv = ["predict", "--run", sys.argv[1], sys.argv[2]]
try:
    runpy.run_module("word_predictor.predict", run_name="__main__")
except SystemExit as stop:
    code = stop.code
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
from benchmarks.common import child_result
child_result({"peak_mib": peak / 1024, "code": code})
"""


def folder_size_mib(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def cold(run: Path, exported: Path, rounds: int) -> list[dict]:
    """Fresh `predict` processes on the run and on its export, alternated round by round."""
    ways = {"predict --run RUN (Keras)": run, "predict --run EXPORT (runtime)": exported}
    seconds, peaks = {name: [] for name in ways}, {name: [] for name in ways}
    names = list(ways)
    for number in range(rounds):
        for name in names[number % 2 :] + names[: number % 2]:
            result = common.run_child(["-c", PEAK_CHILD, str(ways[name]), PROMPT])
            if not result["ok"] or result.get("code") not in (0, None):
                raise SystemExit(f"{name} failed: {result.get('error')}")
            seconds[name].append(result["wall_seconds"])
            peaks[name].append(result["peak_mib"])
    yardstick = seconds[names[0]]
    return [
        {"command": name, "median s": common.median(values), "range": common.spread(values),
         "/ Keras run (median of per-round ratios)": statistics.median(a / b for a, b in zip(values, yardstick)),
         "peak MiB": common.median(peaks[name]), "runs": len(values)}
        for name, values in seconds.items()
    ]  # fmt: skip


def wikitext_models(folder: Path):
    """The default model on WikiText-2's vocabulary: (Keras Predictor, exported folder)."""
    from word_predictor.config import Config
    from word_predictor.exporter.folder import write_export
    from word_predictor.exporter.weights import read_weights
    from word_predictor.model import build_model
    from word_predictor.predictor import Predictor

    config = Config(normalisation="ascii")
    corpus = common.corpus_of([common.data_file("wikitext2-train.txt")], normalisation="ascii")
    facts = corpus.facts
    model = build_model(config, facts)
    write_export(config, corpus.vocabulary, read_weights(model, config), "onnx", folder, source={"run": None})
    return Predictor.for_model(model, config, corpus.vocabulary), folder


def evaluate_throughput(keras_predictor, runtime_predictor, tokens: int, rounds: int) -> list[dict]:
    from word_predictor.corpus import encode_files
    from word_predictor.scoring.evaluate import score_run

    split = encode_files([common.data_file("wikitext2-test.txt")], keras_predictor.vocabulary)
    split = type(split).from_lengths(split.ids[:tokens], [min(tokens, split.ids.size)])
    ways = {"Keras reader": keras_predictor, "runtime (ONNX Runtime)": runtime_predictor}
    rates, perplexities = {name: [] for name in ways}, {}
    score_run(
        keras_predictor, type(split).from_lengths(split.ids[:2000], [2000])
    )  # warm up: trace the shapes
    for number in range(rounds):
        for name in list(ways)[number % 2 :] + list(ways)[: number % 2]:
            start = time.perf_counter()
            scores = score_run(ways[name], split)
            rates[name].append(scores["tokens"] / (time.perf_counter() - start))
            perplexities[name] = scores["perplexity"]
    yardstick = common.median(rates["Keras reader"])
    return [
        {"way": name, "tokens/s (median)": common.median(values), "range": common.spread(values),
         "/ Keras": common.median(values) / yardstick, "perplexity": perplexities[name], "rounds": rounds}
        for name, values in rates.items()
    ]  # fmt: skip


def warm_latency(keras_predictor, exported: Path, calls: int) -> list[dict]:
    """One suggestion at a time, both Predictors, interleaved call by call, on one core.

    Each call reads another 5 words of the WikiText-2 test text: a Predictor remembers the
    last context it read, so asking the same one again would time that memory, not the model.
    """
    from word_predictor.runtime import load

    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    ways = {
        "Keras Predictor.suggest": keras_predictor,
        "runtime Predictor.suggest (1 thread)": load(exported, threads=1),
    }
    texts = five_word_contexts(calls + 20)
    seconds = {name: [] for name in ways}
    for predictor in ways.values():
        for text in texts[-20:]:
            predictor.suggest(text)
    names = list(ways)
    for i in range(calls):
        for name in names[i % 2 :] + names[: i % 2]:
            start = time.perf_counter()
            ways[name].suggest(texts[i])
            seconds[name].append(time.perf_counter() - start)
    yardstick = common.median(seconds[names[0]])
    return [
        {"way": name, "p50 ms": 1000 * common.median(values), "p90 ms": 1000 * common.percentile(values, 90),
         "p99 ms": 1000 * common.percentile(values, 99), "p50 / Keras": common.median(values) / yardstick,
         "calls": len(values)}
        for name, values in seconds.items()
    ]  # fmt: skip


def five_word_contexts(count: int) -> list[str]:
    """`count` different runs of 5 words of the WikiText-2 test text, one after another."""
    from word_predictor.text.tokenizer import words

    test_words = words(common.data_file("wikitext2-test.txt").read_text(encoding="utf-8"))
    return [" ".join(test_words[5 * i : 5 * i + 5]) for i in range(count)]


def exports_of(run: Path, folder: Path, formats: list[str]) -> tuple[dict, list[dict]]:
    from word_predictor.export import main as export

    paths, rows = {}, [{"format": "model.keras (the run)", "MiB": folder_size_mib(run / "model.keras")}]
    for name in formats:
        paths[name] = folder / name
        if export(["--run", str(run), "--format", name, "--out", str(paths[name])]) != 0:
            raise SystemExit(f"exporting {run} to {name} failed")
        manifest_file = json.loads((paths[name] / "manifest.json").read_text())["model_file"]
        rows.append(
            {"format": f"{name} ({manifest_file})", "MiB": folder_size_mib(paths[name] / manifest_file)}
        )
    return paths, rows


def main(argv=None) -> int:
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument(
        "--run", type=Path, help="run folder for the cold start and sizes (default: train one)"
    )
    parser.add_argument("--cold-rounds", type=int, help="cold starts per command (default: 3 quick, 7)")
    parser.add_argument("--calls", type=int, help="warm suggestions per way (default: 300 quick, 2000)")
    parser.add_argument(
        "--tokens", type=int, help="WikiText-2 test tokens scored (default: 20,000 quick, all)"
    )
    parser.add_argument("--rounds", type=int, help="rounds of the evaluate comparison (default: 2 quick, 3)")
    args = parser.parse_args(argv)
    from benchmarks.latency import make_run

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        run = args.run or make_run(scratch / "logs")
        formats = ["onnx"] if args.quick else ["onnx", "litert", "saved_model"]
        paths, size_rows = exports_of(run, scratch, formats)
        common.print_table(size_rows, ["format", "MiB"], title=f"Size on disk ({run.name})")
        cold_rows = cold(run, paths["onnx"], args.cold_rounds or (3 if args.quick else 7))
        common.print_table(cold_rows, ["command", "median s", "range", "/ Keras run (median of per-round ratios)",
                                       "peak MiB", "runs"], title="Cold start: predict from the command line")  # fmt: skip
        keras_predictor, exported = wikitext_models(scratch / "wikitext")
        from word_predictor.runtime import load

        evaluate_rows = evaluate_throughput(keras_predictor, load(exported), args.tokens or (20_000 if args.quick else 10**9),
                                            args.rounds or (2 if args.quick else 3))  # fmt: skip
        common.print_table(evaluate_rows, ["way", "tokens/s (median)", "range", "/ Keras", "perplexity", "rounds"],
                           title="evaluate's scoring, WikiText-2 test, default window model")  # fmt: skip
        warm_rows = warm_latency(keras_predictor, exported, args.calls or (300 if args.quick else 2000))
        common.print_table(warm_rows, ["way", "p50 ms", "p90 ms", "p99 ms", "p50 / Keras", "calls"],
                           title="Warm: one suggestion after 5 words (WikiText-2 test), one CPU core")  # fmt: skip
    common.save_results("export", args, {"sizes": size_rows, "cold": cold_rows, "evaluate": evaluate_rows,
                                         "warm": warm_rows})  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
