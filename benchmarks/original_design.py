"""Benchmark 2: the original study code's design against ours, on growing slices of one corpus.

    original   every window of the corpus materialised up front as one-hot float64,
               X (windows, chunk, vocabulary) and y (windows, vocabulary), then
               Model.fit(X, y) of an LSTM that reads the one-hot vectors and
               predicts the word after the window (softmax, categorical cross-entropy)
    ours, one-hot
               the same network (--one-hot --targets last --dropout 0) through
               `python -m word_predictor.train`: int32 ids, windows gathered and
               one-hot encoded per batch inside the model
    ours       the defaults of `python -m word_predictor.train` (embedding, every
               position predicts its next word, dropout)

Each run is a fresh child process: one epoch over the first N words of
../shared/data/wikitext2-train.txt (normalised; vocabulary from the slice with
unknown threshold 3, as ours builds it), reporting its peak resident memory
(ru_maxrss) and wall time. The original is only run while its predicted footprint
stays under --memory-limit-gib; past that the table gives the prediction:
our peak at that slice (interpreter, TensorFlow, model) plus
windows x (chunk + 1) x vocabulary x 8 bytes times the overhead factor measured
on the slices that did run (Keras copies the arrays while fitting; the factor
grows with the arrays, so calibrate on slices of 10,000 words or more).

    python -m benchmarks.original_design --quick
    python -m benchmarks.original_design
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import common

CHUNK = 5
THRESHOLD = 3
UNITS = 256


def slice_file(tokens: int, folder: Path) -> Path:
    """The first `tokens` normalised words of wikitext2-train.txt, as a text file in `folder`."""
    from word_predictor.text.tokenizer import words

    all_words = words(common.data_file("wikitext2-train.txt").read_text(encoding="utf-8"))
    path = folder / f"wikitext2-first-{tokens}.txt"
    path.write_text(" ".join(all_words[:tokens]) + "\n", encoding="utf-8")
    return path


def whole_slice(path: Path):
    """The slice as our corpus code reads it, all of it for training."""
    return common.corpus_of([path], normalisation="ascii", window_size=CHUNK, unknown_threshold=THRESHOLD,
                            validation_fraction=0.0, test_fraction=0.0)  # fmt: skip


def vocabulary_size(path: Path) -> tuple[int, int]:
    corpus = whole_slice(path)
    return len(corpus.vocabulary), corpus.splits["train"].token_count


def ours_peak(rows: list[dict]) -> float:
    """Our defaults' peak at the slice being measured (its rows come first)."""
    return next(r["peak RSS (MiB)"] for r in rows[-2:] if r["design"] == "ours, defaults")


def original_bytes(tokens: int, vocabulary: int) -> int:
    windows = max(tokens - CHUNK, 0)
    return windows * (CHUNK + 1) * vocabulary * 8  # X and y, float64


# ---------------------------------------------------------------- children


def child_original(path: Path) -> None:
    import keras
    import numpy as np

    start = time.perf_counter()
    corpus = whole_slice(path)
    ids, vocabulary = corpus.splits["train"].ids, len(corpus.vocabulary)
    windows = ids.size - CHUNK
    # The study code's layout: dense float64 one-hot for every window, all at once.
    x = np.zeros((windows, CHUNK, vocabulary), dtype=np.float64)
    y = np.zeros((windows, vocabulary), dtype=np.float64)
    rows = np.arange(windows)
    for position in range(CHUNK):
        x[rows, position, ids[position : position + windows]] = 1.0
    y[rows, ids[CHUNK : CHUNK + windows]] = 1.0
    prepared = time.perf_counter()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((CHUNK, vocabulary)),
        keras.layers.LSTM(UNITS),
        keras.layers.Dense(vocabulary, activation="softmax"),
    ])  # fmt: skip
    model.compile(
        optimizer=keras.optimizers.Adam(0.005), loss="categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(x, y, batch_size=128, epochs=1, shuffle=True, verbose=0)
    done = time.perf_counter()
    common.child_result({
        "vocabulary": vocabulary, "windows": windows, "arrays_mib": (x.nbytes + y.nbytes) / 2**20,
        "prepare_seconds": prepared - start, "train_seconds": done - prepared, "seconds": done - start,
        "peak_rss_mib": common.peak_rss_mib(),
    })  # fmt: skip


def child_ours(path: Path, extra: list[str]) -> None:
    from word_predictor import train

    with tempfile.TemporaryDirectory() as logdir:
        start = time.perf_counter()
        argv = ["--corpus", str(path), "--logdir", logdir, "--run-name", "run", "--epochs", "1",
                "--validation-fraction", "0", "--test-fraction", "0", "--unknown-threshold", str(THRESHOLD),
                "--window-size", str(CHUNK), "--units", str(UNITS), *extra]  # fmt: skip
        saved = sys.stdout
        sys.stdout = open(os.devnull, "w")  # the trainer's progress lines
        try:
            code = train.main(argv)
        finally:
            sys.stdout.close()
            sys.stdout = saved
        if code != 0:
            raise SystemExit(code)
        common.child_result({"seconds": time.perf_counter() - start, "peak_rss_mib": common.peak_rss_mib()})


DESIGNS = {
    "original (float64 one-hot, whole corpus)": ["--child", "original"],
    "ours, same network (--one-hot --targets last --dropout 0)": [
        "--child", "ours", "--", "--one-hot", "--targets", "last", "--dropout", "0"],
    "ours, defaults": ["--child", "ours"],
}  # fmt: skip


def measure_slice(path: Path, memory_limit_gib: float, rows: list[dict], overhead: list[float]) -> None:
    """Both designs on one slice, each in a fresh process: a row each appended to `rows`, and
    the original's measured peak over its predicted array bytes to `overhead`."""
    vocabulary, corpus_tokens = vocabulary_size(path)
    predicted_mib = original_bytes(corpus_tokens, vocabulary) / 2**20
    # Ours first: its peak is the floor (interpreter, TensorFlow, model) that the
    # original's arrays come on top of.
    for design, child_args in reversed(DESIGNS.items()):
        row = {"words": corpus_tokens, "vocabulary": vocabulary, "design": design}
        if design.startswith("original"):
            row["arrays (MiB)"] = predicted_mib
            floor = ours_peak(rows)
            predicted_peak = floor + predicted_mib * (max(overhead) if overhead else 2.0)
            row["predicted peak (MiB)"] = predicted_peak
            if predicted_peak > memory_limit_gib * 1024:
                row["peak RSS (MiB)"] = "over the limit, not run"
                rows.append(row)
                print(f"  {corpus_tokens:>8,} words  {design}: predicted {predicted_peak:,.0f} MiB, "
                      "over the limit, not run", flush=True)  # fmt: skip
                continue
        result = common.run_child(
            ["-m", "benchmarks.original_design", "--path", str(path), *child_args], timeout=1800
        )
        if not result["ok"]:
            row["peak RSS (MiB)"] = f"failed: {result.get('error')}"
        else:
            row.update({"peak RSS (MiB)": result["peak_rss_mib"], "seconds": result["seconds"]})
            if design.startswith("original"):
                floor = ours_peak(rows)
                overhead.append((result["peak_rss_mib"] - floor) / predicted_mib)
                row["prepare s"] = result["prepare_seconds"]
                row["train s"] = result["train_seconds"]
        rows.append(row)
        print(f"  {corpus_tokens:>8,} words  {design}: {row.get('peak RSS (MiB)')} MiB, "
              f"{row.get('seconds', float('nan')):.1f} s", flush=True)  # fmt: skip


def add_ratios(rows: list[dict]) -> None:
    """Ratios against our defaults at the same slice (the yardstick of each row)."""
    for row in rows:
        ours = next(r for r in rows if r["words"] == row["words"] and r["design"] == "ours, defaults")
        if isinstance(row.get("peak RSS (MiB)"), float) and isinstance(ours.get("peak RSS (MiB)"), float):
            row["memory / ours"] = row["peak RSS (MiB)"] / ours["peak RSS (MiB)"]
        if "seconds" in row and "seconds" in ours:
            row["time / ours"] = row["seconds"] / ours["seconds"]


def main(argv=None) -> int:
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, nargs="+", help="slice sizes in words (default: by --quick)")
    parser.add_argument("--memory-limit-gib", type=float, default=8.0,
                        help="run the original only while its predicted peak stays under this")  # fmt: skip
    parser.add_argument("--child", choices=["original", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("extra", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "original":
        child_original(args.path)
        return 0
    if args.child == "ours":
        child_ours(args.path, args.extra)
        return 0

    slices = args.slices or ([5_000, 10_000] if args.quick else [5_000, 10_000, 20_000, 40_000, 177_348])
    rows = []
    overhead = []  # measured peak / predicted array bytes of the original
    with tempfile.TemporaryDirectory() as folder:
        for tokens in slices:
            measure_slice(slice_file(tokens, Path(folder)), args.memory_limit_gib, rows, overhead)
    add_ratios(rows)
    common.print_table(
        rows,
        ["words", "vocabulary", "design", "arrays (MiB)", "predicted peak (MiB)", "peak RSS (MiB)",
         "memory / ours", "seconds", "time / ours"],  # fmt: skip
        title="One epoch on the first N words of wikitext2-train.txt (each in a fresh process)",
    )
    limits, predicted = fit_limits(rows, overhead)
    for words, gib in predicted:
        print(f"original, predicted peak at {words:>7,} words: {gib:,.1f} GiB")
    for gib, words in limits.items():
        print(f"original no longer fits in {gib} GiB from about {words:,} words of this corpus")
    common.save_results(
        "original_design", args,
        {"rows": rows, "overhead_factors": overhead, "does_not_fit_from_words": limits,
         "predicted_gib": predicted},
    )  # fmt: skip
    return 0


def fit_limits(rows: list[dict], overhead: list[float]) -> tuple[dict, list]:
    """Words of wikitext2 at which the original's predicted peak passes 8, 16 and 24 GiB,
    and the predicted peaks (GiB) at slices of 5,000 words to the whole file.

    The vocabulary grows with the slice, so it is measured (by our corpus code) on
    slices of growing size rather than assumed.
    """
    if not overhead:
        return {}, []
    import tempfile as _tempfile

    factor = max(overhead)
    floor_mib = max(r["peak RSS (MiB)"] for r in rows if r["design"] == "ours, defaults")
    limits = {}
    with _tempfile.TemporaryDirectory() as folder:
        sizes = [5_000 * 2**k for k in range(7)] + [177_348]
        predicted = []
        for tokens in sorted(set(sizes)):
            vocabulary, corpus_tokens = vocabulary_size(slice_file(tokens, Path(folder)))
            if predicted and corpus_tokens == predicted[-1][0]:
                break  # past the end of the file
            peak_bytes = floor_mib * 2**20 + original_bytes(corpus_tokens, vocabulary) * factor
            predicted.append((corpus_tokens, peak_bytes / 2**30))
            if corpus_tokens < tokens:
                break
    for gib in (8, 16, 24):
        for (small, small_gib), (large, large_gib) in zip(predicted, predicted[1:]):
            if small_gib <= gib < large_gib:  # interpolate between measured vocabulary sizes
                limits[gib] = int(small + (large - small) * (gib - small_gib) / (large_gib - small_gib))
                break
    return limits, predicted


if __name__ == "__main__":
    raise SystemExit(main())
