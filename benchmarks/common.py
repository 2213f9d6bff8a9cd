"""What every benchmark shares: the data, the machine's description, isolated child
processes for peak memory, medians, tables and the JSON results file.

Run the benchmarks from the repository root, e.g. `python -m benchmarks.throughput --quick`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results"
CHILD_MARKER = "BENCHMARK-RESULT "


def data_file(name: str) -> Path:
    """A file of ../shared/data, or a one-line exit that says what is missing."""
    path = DATA / name
    if not path.is_file():
        sys.exit(f"benchmarks: {path} is missing; the benchmarks read the shared data in ../shared/data")
    return path


def first_tokens(path: Path, count: int, folder: Path) -> Path:
    """A copy in `folder` of the first `count` whitespace-separated tokens of `path`, its
    lines kept (the last one cut at the count): a small corpus cut from a larger one, where
    a run's fixed costs (imports, tracing, compiling) weigh most."""
    kept, left = [], count
    with open(path, encoding="utf-8") as text:
        for line in text:
            words = line.split()
            if len(words) >= left:
                kept.append(" ".join(words[:left]) + "\n")
                break
            kept.append(line)
            left -= len(words)
    cut = Path(folder) / f"{Path(path).stem}-{count}.txt"
    cut.write_text("".join(kept), encoding="utf-8")
    return cut


def corpus_of(files: list[Path], cache_dir: Path | None = None, **settings):
    """`files` read, split and encoded by the library's own corpus_for, as `python -m
    word_predictor.train --corpus FILES` reads them with the default settings and `settings`
    over them (Config's names: normalisation="ascii", window_size=2, validation_fraction=0, ...):
    the context the settings pick gives the split block size and the fewest tokens."""
    from word_predictor.config import Config
    from word_predictor.training.run_corpus import corpus_for

    return corpus_for(Config(corpus=[str(path) for path in files], **settings), cache_dir)


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smaller run that finishes in a minute or two")
    parser.add_argument("--no-save", action="store_true", help="print the table only, write no JSON")
    return parser


# ---------------------------------------------------------------- the machine


def machine() -> dict:
    """CPU model, cores, memory and library versions: what a figure depends on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_average_at_start": os.getloadavg(),
    }
    for module in ("tensorflow", "keras", "torch", "numpy"):
        if module in sys.modules:
            info[module] = getattr(sys.modules[module], "__version__", "?")
    return info


# ---------------------------------------------------------------- statistics and output


def median(values) -> float:
    return float(statistics.median(values))


def percentile(values, q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


def spread(values) -> str:
    """'min-max' of repeated measurements, to show the noise beside a median."""
    return f"{min(values):.4g}-{max(values):.4g}" if values else ""


def round_ratios(results: list[dict], yardstick: list[dict], key: str = "wall_seconds") -> str:
    """'0.91, 1.02, ...': each round's `key` over the yardstick's in the same round (the rounds
    of an invocation that both sides finished), for the noise a ratio of medians hides."""
    if len(results) != len(yardstick):
        return ""
    return ", ".join(f"{mine[key] / theirs[key]:.2f}" for mine, theirs in zip(results, yardstick))


def print_table(rows: list[dict], columns: list[str], title: str = "") -> str:
    """A GitHub-markdown table of `rows` (dicts) restricted to `columns`; returned and printed."""

    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        return "" if value is None else str(value)

    lines = [f"| {' | '.join(columns)} |", f"|{'|'.join('---' for _ in columns)}|"]
    lines += [f"| {' | '.join(cell(row.get(c)) for c in columns)} |" for row in rows]
    text = (f"\n{title}\n" if title else "\n") + "\n".join(lines)
    print(text, flush=True)
    return text


def save_results(name: str, args: argparse.Namespace, payload: dict) -> Path | None:
    """benchmarks/results/NAME-[quick-]DATE.json with the command and the machine."""
    if getattr(args, "no_save", False):
        return None
    RESULTS.mkdir(parents=True, exist_ok=True)
    mode = "quick-" if getattr(args, "quick", False) else ""
    path = RESULTS / f"{name}-{mode}{time.strftime('%Y%m%d-%H%M%S')}.json"
    document = {
        "benchmark": name,
        "command": " ".join([Path(sys.executable).name, "-m", f"benchmarks.{name}", *sys.argv[1:]]),
        "machine": machine(),
        **payload,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nresults: {path.relative_to(REPO)}")
    return path


# ---------------------------------------------------------------- isolated child processes


def child_result(result: dict) -> None:
    """Called in a child: hand `result` back to run_child on stdout."""
    print(CHILD_MARKER + json.dumps(result, default=str), flush=True)


def run_child(arguments: list[str], timeout: float = 3600, env: dict | None = None) -> dict:
    """Run `python ARGUMENTS` from the repository root; return its result, wall time and peak RSS.

    Peak memory is the child's own ru_maxrss (from wait4), so nothing the parent
    holds is counted and every measurement starts from a fresh interpreter.
    """
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, *arguments],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
    )
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        return {"ok": False, "error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - start
    # communicate() has reaped the child; its rusage survives in RUSAGE_CHILDREN only
    # as a maximum over all children, so the child reports its own figure as well.
    result: dict = {"ok": child.returncode == 0, "returncode": child.returncode, "wall_seconds": wall}
    for line in stdout.splitlines():
        if line.startswith(CHILD_MARKER):
            result.update(json.loads(line[len(CHILD_MARKER) :]))
    if child.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        result["error"] = tail or f"exit code {child.returncode}"
        if child.returncode < 0:
            result["error"] = f"killed by signal {-child.returncode} (out of memory?)"
    return result


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


# ---------------------------------------------------------------- the trainer, for a few steps


def train_capped(argv: list[str], max_steps: int | None, quiet: bool = True) -> int:
    """Run `python -m word_predictor.train ARGV` in process, each epoch cut to `max_steps` batches.

    The whole real path runs (corpus, run folder, callbacks, saving); only the
    number of batches per epoch (training and validation) is capped, so a run on
    ten million words takes a minute instead of hours.
    """
    from word_predictor import train
    from word_predictor.training import trainer

    args = train.build_parser().parse_args(argv)
    config = train.config_from_args(args)
    saved_stdout = sys.stdout
    if quiet:
        sys.stdout = open(os.devnull, "w")
    try:
        trainer.train_new(config, args.logdir, args.run_name, "benchmark", not args.no_cache, steps_per_epoch=max_steps)
        return 0
    finally:
        if quiet:
            sys.stdout.close()
            sys.stdout = saved_stdout


# ---------------------------------------------------------------- a corpus that grows like real text

SHARED_TEXTS = ("wikitext2-train.txt", "tinyshakespeare.txt")


def _letters(number: int) -> str:
    """1 -> 'a', 26 -> 'z', 27 -> 'aa', ...: a suffix of letters for each positive number."""
    letters = []
    while number:
        number, digit = divmod(number - 1, 26)
        letters.append(chr(ord("a") + digit))
    return "".join(reversed(letters))


def write_growing_corpus(folder: Path, words: int, *, share: float = 0.3, exponent: float = 1.2,
                         typo_share: float = 0.05, words_per_file: int = 1_000_000, seed: int = 0) -> int:  # fmt: skip
    """About `words` words of real-looking text in files of `words_per_file` words under
    `folder` (a user's folder of .txt files); returns the bytes written.

    The text is SHARED_TEXTS repeated, their lines kept. In each copy a `share` of the word
    types (drawn afresh) is renamed throughout the copy, with a suffix of letters whose
    number follows a Zipf law of `exponent`: as new documents bring new names that recur
    within them, the distinct words keep growing with the corpus (Heaps' law), and so do
    the words seen often enough for the vocabulary, as in real text. A `typo_share` of the
    words then get a suffix of their own, drawn the same way: the many words seen once or
    twice. Plain repetition would stop at the shared files' vocabulary.
    """
    import numpy as np

    tokens: list[str] = []
    for name in SHARED_TEXTS:
        for line in data_file(name).read_text(encoding="utf-8").splitlines():
            if line.split():
                tokens += line.split()
                tokens.append("\n")
    table = {token: number for number, token in enumerate(dict.fromkeys(tokens))}
    vocabulary = np.array(list(table), dtype=object)
    ids = np.array([table[token] for token in tokens], np.int64)
    renamable = np.array([token.isalpha() for token in vocabulary])
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written, number, position = 0, 0, 0
    stream = None
    while written < words:
        names = vocabulary.copy()
        chosen = np.flatnonzero(renamable & (rng.random(names.size) < share))
        suffixes = rng.zipf(exponent, chosen.size).tolist()
        names[chosen] = [word + _letters(value) for word, value in zip(names[chosen].tolist(), suffixes)]
        copy = names[ids]  # (tokens,) strings, line ends included
        chosen = np.flatnonzero(renamable[ids] & (rng.random(ids.size) < typo_share))
        suffixes = rng.zipf(exponent, chosen.size).tolist()
        copy[chosen] = [word + _letters(value) for word, value in zip(copy[chosen].tolist(), suffixes)]
        counted = np.cumsum(copy != "\n")  # words up to and including each token
        start = 0
        while start < copy.size and written < words:
            if stream is None or position >= words_per_file:
                if stream is not None:
                    stream.close()
                stream, position = open(folder / f"part-{number:05d}.txt", "w", encoding="utf-8"), 0
                number += 1
            before = int(counted[start - 1]) if start else 0
            take = min(words_per_file - position, words - written)
            end = min(copy.size, int(np.searchsorted(counted, before + take)) + 1)  # past the take-th word
            stream.write(" ".join(copy[start:end].tolist()).replace(" \n ", "\n") + "\n")
            position += int(counted[end - 1]) - before
            written += int(counted[end - 1]) - before
            start = end
    if stream is not None:
        stream.close()
    return sum(path.stat().st_size for path in folder.iterdir())
