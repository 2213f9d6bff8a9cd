"""Benchmark 3: the anonymous memory of a default training run, phase by phase, as the corpus grows.

The default mode (--mode run) does what a user does: `python -m word_predictor.train
--corpus FOLDER` with the default settings, as a child process, on a folder of .txt files
written under /tmp at run time (never committed): common.write_growing_corpus, the shared
texts repeated with a share of words varied by a Zipf law so that the distinct words keep
growing as in real text (--text zipf: synthesised Zipf text instead). Every --interval
seconds it sums RssAnon (/proc/PID/status) over the child and all its descendants (the
reading workers included; the store's file-backed pages are left out, as the kernel can
drop them) and keeps the peak of each phase:

  read       from the start to the token store written (the text read, counted, the
             vocabulary chosen, the ids remapped): LOGDIR/.cache/tokens-*.json appears
  splits     the store mapped and split, the run folder and its test split written:
             LOGDIR/RUN/test_split.npz appears
  training   the model built and trained, for --seconds seconds (default 120)

then stops the run (SIGTERM, as Ctrl-C). The goal: each phase's peak at the largest size at
most 1.1x its peak at the smallest.

    python -m benchmarks.memory --sizes 10 100 --runs 1        # the default run, 10M and 100M words
    python -m benchmarks.memory --quick                        # 1M and 10M words, 30 s of training

--mode steps keeps the earlier measure: one child process that builds the corpus through
the library, iterates --max-batches batches and fits --train-steps steps, reporting the
peak of each (its whole run's peak is what the goal was first stated on):

    python -m benchmarks.memory --mode steps --sizes 10 100 --runs 1 --max-batches 50 --train-steps 30
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import threading
import time
from pathlib import Path

from benchmarks import common

WORDS_PER_FILE = 10_000_000
WORDS_PER_LINE = 12


def made_up_word(rank: int) -> str:
    """A distinct word of letters for each rank, of 4 letters for the first 456,976
    ranks: about as many bytes per word as English prose (5 with the space)."""
    letters = []
    number = rank + 1 + 26 + 26**2 + 26**3  # past every word of 1 to 3 letters
    while number:
        number, digit = divmod(number - 1, 26)
        letters.append(chr(ord("a") + digit))
    return "".join(reversed(letters))


SHARED = ("wikitext2-train.txt", "wikitext2-test.txt", "tinyshakespeare.txt")


def write_shared_corpus(folder: Path, words: int) -> int:
    """The three files of ../shared/data repeated to about `words` words (split at spaces)."""
    text = "\n".join(common.data_file(name).read_text(encoding="utf-8") for name in SHARED)
    per_copy = len(text.split())
    with open(folder / "shared.txt", "w", encoding="utf-8") as stream:
        for _ in range(max(1, round(words / per_copy))):
            stream.write(text + "\n")
    return (folder / "shared.txt").stat().st_size


def write_corpus(folder: Path, words: int, types: int, exponent: float, seed: int = 0) -> int:
    """`words` Zipf-distributed words in files of folder; returns the bytes written."""
    import numpy as np

    vocabulary = [made_up_word(rank) for rank in range(types)]
    weights = 1.0 / np.arange(1, types + 1, dtype=np.float64) ** exponent
    cdf = np.cumsum(weights / weights.sum())
    rng = np.random.default_rng(seed)
    written, number = 0, 0
    while written < words:
        count = min(WORDS_PER_FILE, words - written)
        with open(folder / f"part-{number:04d}.txt", "w", encoding="utf-8") as stream:
            for start in range(0, count, 1_000_000):
                ranks = np.searchsorted(cdf, rng.random(min(1_000_000, count - start))).tolist()
                line = [vocabulary[r] for r in ranks]
                stream.write("\n".join(" ".join(line[i : i + WORDS_PER_LINE])
                                       for i in range(0, len(line), WORDS_PER_LINE)) + "\n")  # fmt: skip
        written += count
        number += 1
    return sum(path.stat().st_size for path in folder.iterdir())


class AnonymousPeak:
    """The highest RssAnon of this process and every process below it, sampled in a thread."""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> AnonymousPeak:
        self.peak_kib = self.now_kib()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kib = max(self.peak_kib, self.now_kib())

    @property
    def peak_mib(self) -> float:
        return self.peak_kib / 1024

    @staticmethod
    def now_kib() -> int:
        import os

        return tree_anon_kib(os.getpid())  # the reading workers are the fork server's children

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_kib = max(self.peak_kib, self.now_kib())


# ---------------------------------------------------------------- --mode run: the user's run, phase by phase

PHASES = ("read", "splits", "training")


def tree_pids(pid: int) -> list[int]:
    """`pid` and every process below it (the children each thread of each process started)."""
    pids, index = [pid], 0
    while index < len(pids):
        for children in Path(f"/proc/{pids[index]}/task").glob("*/children"):
            try:
                pids += [int(child) for child in children.read_text().split()]
            except (OSError, ValueError):
                pass  # a thread or process that has just ended
        index += 1
    return pids


def tree_anon_kib(pid: int) -> int:
    """RssAnon summed over `pid` and its descendants (a forked child counts the pages it shares)."""
    total = 0
    for each in tree_pids(pid):
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return total


def phase_of(logdir: Path) -> str:
    """Where a default run writing under `logdir` has got to, from the files it has written."""
    if any(logdir.glob("*/test_split.npz")):
        return "training"
    if any((logdir / ".cache").glob("tokens-*.json")):
        return "splits"
    return "read"


def measure_run(corpus_dir: Path, seconds: float, interval: float, flags: list[str]) -> dict:
    """Train with the defaults (and `flags`) on `corpus_dir` in a child process, sampling the
    anonymous memory of its process tree; stop it `seconds` after training began."""
    import os
    import signal
    import subprocess
    import sys

    with tempfile.TemporaryDirectory(dir="/tmp", prefix="memory-logs-") as logdir:
        command = [sys.executable, "-m", "word_predictor.train", "--corpus", str(corpus_dir), "--logdir", logdir,
                   *flags]  # fmt: skip
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(common.REPO)}
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=common.REPO, env=environment, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)  # fmt: skip
        peaks = dict.fromkeys(PHASES, 0)
        entered = {"read": 0.0}
        while child.poll() is None:
            phase = phase_of(Path(logdir))
            entered.setdefault(phase, time.perf_counter() - started)
            if phase == "training" and time.perf_counter() - started - entered["training"] > seconds:
                break
            peaks[phase] = max(peaks[phase], tree_anon_kib(child.pid))
            time.sleep(interval)
        ended = time.perf_counter() - started
        stopped_itself = child.poll() is not None
        child.send_signal(signal.SIGTERM)
        try:
            _, error = child.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            _, error = child.communicate()
    if stopped_itself and child.returncode != 0:
        return {"ok": False, "error": (error.strip().splitlines() or ["exit %d" % child.returncode])[-1]}
    result = {"ok": True, **{f"{phase}_peak_anon_mib": peaks[phase] / 1024 for phase in PHASES}}
    result["read_seconds"] = entered.get("splits", float("nan"))
    result["trained_seconds"] = ended - entered.get("training", float("nan"))
    return result


def child(corpus_dir: Path, workers: int, max_batches: int | None, train_steps: int) -> None:
    from word_predictor.config import Config
    from word_predictor.corpus.build import build_corpus
    from word_predictor.corpus.splits import window_block_size
    from word_predictor.text.tokenizer import tokenizer_for

    defaults = Config(corpus=[str(corpus_dir)])  # what `train --corpus DIR` would use
    window_size = defaults.window_size
    settings = dict(
        tokenizer=tokenizer_for(defaults.level, defaults.normalisation), unknown_threshold=defaults.unknown_threshold,
        max_vocabulary=defaults.max_vocabulary, validation_fraction=defaults.validation_fraction,
        test_fraction=defaults.test_fraction, block_size=window_block_size(window_size), min_tokens=window_size + 1,
        workers=workers,
    )  # fmt: skip
    text_bytes = sum(p.stat().st_size for p in corpus_dir.iterdir())
    result: dict = {"text_mb": text_bytes / 1e6, "start_anon_mib": AnonymousPeak.now_kib() / 1024}
    with tempfile.TemporaryDirectory() as cache:
        with AnonymousPeak() as peak:
            started = time.perf_counter()
            corpus = build_corpus([corpus_dir], cache_dir=Path(cache), **settings)
            result["build_seconds"] = time.perf_counter() - started
        result["build_peak_anon_mib"] = peak.peak_mib
        result["read_mb_per_second"] = result["text_mb"] / result["build_seconds"]
        result["million_words_per_second"] = corpus.token_count / 1e6 / result["build_seconds"]
        result["tokens"] = corpus.token_count
        result["vocabulary"] = len(corpus.vocabulary)
        del corpus
        with AnonymousPeak() as peak:
            started = time.perf_counter()
            corpus = build_corpus([corpus_dir], cache_dir=Path(cache), **settings)
            result["reuse_seconds"] = time.perf_counter() - started
        result["reuse_peak_anon_mib"] = peak.peak_mib

        from word_predictor.batches.windows import WindowBatches  # imports Keras

        result["keras_anon_mib"] = AnonymousPeak.now_kib() / 1024
        with AnonymousPeak() as peak:
            started = time.perf_counter()
            batches = WindowBatches(corpus.splits["train"], window_size=window_size, batch_size=128,
                                    targets="all", shuffle=True)  # fmt: skip
            steps = len(batches) if max_batches is None else min(len(batches), max_batches)
            for index in range(steps):
                batches[index]
            result["epoch_seconds"] = time.perf_counter() - started
        result["epoch_batches"] = steps
        result["epoch_peak_anon_mib"] = peak.peak_mib
        with AnonymousPeak() as peak:
            started = time.perf_counter()
            result["parameters"] = _train(defaults, corpus, train_steps)
            result["train_seconds"] = time.perf_counter() - started
        result["train_peak_anon_mib"] = peak.peak_mib
    common.child_result(result)


def _train(config, corpus, steps: int) -> int:
    """The default model for this corpus, built and compiled as training builds it, fitted
    for `steps` batches of the training split: its weights, gradients and Adam's two
    moments are what grows with the vocabulary."""
    from word_predictor.batches import context_for
    from word_predictor.model.compile import compile_model

    facts = corpus.facts
    context = context_for(config)
    model = context.training_model(facts, on_gpu=False)
    compile_model(model, config)
    batches = context.training_batches(corpus.splits["train"], epoch=0)
    model.fit(batches, epochs=1, steps_per_epoch=min(steps, len(batches)), verbose=0)
    return model.count_params()


COLUMNS = [
    ("build_peak_anon_mib", "build peak anon (MiB)"),
    ("read_mb_per_second", "read MB/s"),
    ("million_words_per_second", "M words/s"),
    ("build_seconds", "build s"),
    ("reuse_seconds", "reuse s"),
    ("reuse_peak_anon_mib", "reuse peak anon (MiB)"),
    ("keras_anon_mib", "anon with Keras (MiB)"),
    ("epoch_peak_anon_mib", "epoch peak anon (MiB)"),
    ("epoch_seconds", "epoch s"),
    ("train_peak_anon_mib", "train peak anon (MiB)"),
    ("train_seconds", "train s"),
]


def build_parser():
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=float, nargs="+", help="corpus sizes in millions of words")
    parser.add_argument("--runs", type=int, help="runs per size (default 3, 1 with --quick)")
    parser.add_argument("--types", type=int, default=200_000, help="word types of the Zipf text")
    parser.add_argument("--exponent", type=float, default=1.0, help="Zipf exponent of the word frequencies")
    parser.add_argument("--mode", choices=("run", "steps"), default="run",
                        help="run: `train` with the defaults, phase by phase; steps: the library's parts in one "
                             "child (see the module's docstring)")  # fmt: skip
    parser.add_argument("--text", choices=("growing", "zipf", "shared"), default="growing",
                        help="the shared texts repeated with Zipf-varied words (common.write_growing_corpus), "
                             "synthesised Zipf text, or the files of ../shared/data repeated as they are")  # fmt: skip
    parser.add_argument("--seconds", type=float, help="--mode run: seconds of training watched (default 120, "
                                                      "30 with --quick)")  # fmt: skip
    parser.add_argument("--interval", type=float, default=0.2, help="--mode run: seconds between samples")
    parser.add_argument("--flags", default="", help="--mode run: more flags for train, e.g. '--epochs 1'")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes reading the text (0: build_corpus's own choice)")  # fmt: skip
    parser.add_argument("--max-batches", type=int, help="cut the epoch to this many batches (default: all)")
    parser.add_argument("--train-steps", type=int, default=50,
                        help="training steps of the default model after the epoch of batches (default: 50)")  # fmt: skip
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    return parser


def measure_size(args, words: int, runs: int) -> list[dict]:
    """`runs` child processes, each reading a corpus of `words` words and training on it."""
    extra = ["--workers", str(args.workers), "--train-steps", str(args.train_steps)]
    if args.max_batches:
        extra += ["--max-batches", str(args.max_batches)]
    with corpus_folder(args, words) as folder:
        results = []
        for run in range(runs):
            arguments = ["-m", "benchmarks.memory", "--child", folder, *extra]
            result = common.run_child(arguments, timeout=3600)
            if not result["ok"]:
                print(f"  {words:,} words, run {run + 1}: failed: {result.get('error')}", flush=True)
                continue
            results.append(result)
            print(f"  {words:,} words, run {run + 1}: build {result['build_seconds']:.1f} s "
                  f"({result['read_mb_per_second']:.1f} MB/s), peak anonymous "
                  f"{result['build_peak_anon_mib']:.0f} MiB building, "
                  f"{result['epoch_peak_anon_mib']:.0f} MiB in the epoch, {result['train_peak_anon_mib']:.0f} "
                  f"MiB training ({result['parameters']:,} parameters)", flush=True)  # fmt: skip
    return results


@contextlib.contextmanager
def corpus_folder(args, words: int):
    """A folder under /tmp holding `words` words of the text --text names, removed afterwards."""
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="memory-corpus-") as folder:
        if args.text == "shared":
            write_shared_corpus(Path(folder), words)
        elif args.text == "zipf":
            write_corpus(Path(folder), words, args.types, args.exponent)
        else:
            common.write_growing_corpus(Path(folder), words)
        yield folder


def measure_size_run(args, words: int, runs: int) -> list[dict]:
    """`runs` default training runs on a corpus of `words` words, each watched phase by phase."""
    seconds = args.seconds or (30.0 if args.quick else 120.0)
    results = []
    with corpus_folder(args, words) as folder:
        text_mb = sum(path.stat().st_size for path in Path(folder).iterdir()) / 1e6
        for run in range(runs):
            result = measure_run(Path(folder), seconds, args.interval, args.flags.split())
            if not result["ok"]:
                print(f"  {words:,} words, run {run + 1}: failed: {result['error']}", flush=True)
                continue
            result["text_mb"] = text_mb
            result["read_mb_per_second"] = text_mb / result["read_seconds"]
            results.append(result)
            print(f"  {words:,} words ({text_mb:.0f} MB), run {run + 1}: peak anonymous memory of the process "
                  "tree " + ", ".join(f"{phase} {result[f'{phase}_peak_anon_mib']:.0f} MiB" for phase in PHASES)
                  + f"; read at {result['read_mb_per_second']:.1f} MB/s, trained {result['trained_seconds']:.0f} s",
                  flush=True)  # fmt: skip
    return results


def report_run(sizes: list[tuple[int, list[dict]]]) -> list[dict]:
    rows = []
    for words, results in sizes:
        row = {"words": words, "text MB": results[0]["text_mb"]}
        for phase in PHASES:
            row[f"{phase} peak (MiB)"] = common.median([r[f"{phase}_peak_anon_mib"] for r in results])
        row["read MB/s"] = common.median([r["read_mb_per_second"] for r in results])
        rows.append(row)
    common.print_table(rows, list(rows[0]), title="Peak anonymous memory of `train` and its children, by phase")
    if len(rows) >= 2:
        small, large = rows[0], rows[-1]
        for phase in PHASES:
            ratio = large[f"{phase} peak (MiB)"] / small[f"{phase} peak (MiB)"]
            print(f"{phase}: {large['words']:,} words use {ratio:.2f}x the peak of {small['words']:,} "
                  f"(goal <= 1.1x: {'met' if ratio <= 1.1 else 'not met'})")  # fmt: skip
    return rows


def row_of(words: int, results: list[dict]) -> dict:
    row = {"words": words, "text MB": results[0]["text_mb"], "vocabulary": results[0]["vocabulary"],
           "parameters": results[0]["parameters"]}
    for name, column in COLUMNS:
        row[column] = common.median([r[name] for r in results])
    # The goal's figure: the peak of the whole run, reading the corpus and training on it.
    row["run peak anon (MiB)"] = common.median(
        [max(r["build_peak_anon_mib"], r["reuse_peak_anon_mib"], r["epoch_peak_anon_mib"], r["train_peak_anon_mib"])
         for r in results]
    )
    row["build spread (MiB)"] = common.spread([r["build_peak_anon_mib"] for r in results])
    return row


def report(rows: list[dict], args, runs: int) -> None:
    common.print_table(
        rows,
        ["words", "text MB", "vocabulary", "parameters", "run peak anon (MiB)", "train peak anon (MiB)", "build peak anon (MiB)", "build spread (MiB)",
         "read MB/s",
         "M words/s", "build s", "reuse s", "reuse peak anon (MiB)", "anon with Keras (MiB)",
         "epoch peak anon (MiB)", "epoch s", "train s"],
        title=f"Reading a corpus into the token store (medians of {runs} run(s); " + {
            "shared": "the shared files repeated)", "growing": "text that grows like real text)",
            "zipf": f"Zipf text of {args.types:,} types, exponent {args.exponent})"}[args.text],
    )  # fmt: skip
    if len(rows) >= 2:
        small, large = rows[0], rows[-1]
        for phase in ("run", "build", "epoch", "train"):
            column = f"{phase} peak anon (MiB)"
            ratio = large[column] / small[column]
            verdict = "met" if ratio <= 1.1 and large[column] < 1536 else "not met"
            print(f"{phase}: {large['words']:,} words use {ratio:.2f}x the anonymous memory of "
                  f"{small['words']:,} ({large[column]:.0f} MiB); "
                  f"goal (<= 1.1x and < 1.5 GB): {verdict}")  # fmt: skip


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.child:
        child(args.child, args.workers, args.max_batches, args.train_steps)
        return 0
    sizes = args.sizes or ([1.0, 10.0] if args.quick else [10.0, 100.0])
    runs = args.runs or (1 if args.quick else 3)
    if args.mode == "run":
        measured = [(int(m * 1_000_000), measure_size_run(args, int(m * 1_000_000), runs)) for m in sizes]
        measured = [(words, results) for words, results in measured if results]
        rows = report_run(measured) if measured else []
        common.save_results("memory", args, {"mode": "run", "text": args.text, "rows": rows,
                                             "raw": [{"words": w, "runs": r} for w, r in measured]})  # fmt: skip
        return 0
    rows, raw = [], []
    for millions in sizes:
        words = int(millions * 1_000_000)
        results = measure_size(args, words, runs)
        raw.append({"words": words, "runs": results})
        if results:
            rows.append(row_of(words, results))
    report(rows, args, runs)
    payload = {"text": args.text, "types": args.types, "exponent": args.exponent, "rows": rows, "raw": raw}
    common.save_results("memory", args, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
