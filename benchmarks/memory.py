"""Benchmark 3: peak resident memory of a training run at 0.1M, 1M and 10M words.

The corpus is the three files of ../shared/data (WikiText-2 train and test, Tiny
Shakespeare: 579,220 words, 23,759 distinct after normalisation) repeated until
it holds N words, plus a block of 30,000 distinct words (the 23,759 real ones and
made-up ones of letters only) so that the vocabulary stays around 30,000 at every
size (--unknown-threshold 0 keeps every word seen in training). The files are
written to a temporary folder and deleted afterwards.

Each size is a fresh child process that runs `python -m word_predictor.train`
in process with the default model, --epochs 1 --validation-fraction 0.1
--test-fraction 0, and each epoch cut to --max-steps batches (training and
validation): memory that grows with the corpus (ids, splits, window starts,
shuffled order) is all allocated, while the number of steps, whose memory does
not grow with the corpus, stays small. The child reports ru_maxrss overall and
after reading the corpus, and how long reading the text took against loading the
same ids from a compact .npy cache (the token-cache lever).

    python -m benchmarks.memory --quick          # 0.1M and 1M words
    python -m benchmarks.memory                  # 0.1M, 1M and 10M words
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks import common

SOURCES = ("wikitext2-train.txt", "wikitext2-test.txt", "tinyshakespeare.txt")
VOCABULARY_TARGET = 30_000
WORDS_PER_FILE = 1_000_000


def made_up_word(number: int) -> str:
    letters = []
    number += 26 * 26  # at least three letters after the "zq" prefix
    while number:
        number, digit = divmod(number, 26)
        letters.append(chr(ord("a") + digit))
    return "zq" + "".join(reversed(letters))


def write_corpus(folder: Path, tokens: int) -> None:
    """`tokens` words in `folder`: a 30,000-word glossary, then the shared text repeated."""
    from word_predictor.text import words

    base: list[str] = []
    for name in SOURCES:
        base += words(common.data_file(name).read_text(encoding="utf-8"))
    distinct = list(dict.fromkeys(base))
    glossary = distinct + [made_up_word(i) for i in range(VOCABULARY_TARGET - len(distinct))]
    (folder / "a-glossary.txt").write_text(" ".join(glossary) + "\n", encoding="utf-8")
    remaining, number = tokens - len(glossary), 0
    while remaining > 0:
        part = min(remaining, WORDS_PER_FILE)
        repeated = (base * (part // len(base) + 1))[:part]
        (folder / f"b-text-{number:04d}.txt").write_text(" ".join(repeated) + "\n", encoding="utf-8")
        remaining -= part
        number += 1


def child(corpus_dir: Path, max_steps: int) -> None:
    import numpy as np

    import word_predictor.train as train

    phases: dict = {}
    real_build_corpus = train.build_corpus

    def measured_build_corpus(*args, **kwargs):
        start = time.perf_counter()
        corpus = real_build_corpus(*args, **kwargs)
        phases["read_seconds"] = time.perf_counter() - start
        phases["peak_rss_after_corpus_mib"] = common.peak_rss_mib()
        phases["vocabulary"] = len(corpus.vocabulary)
        phases["train_tokens"] = corpus.splits["train"].tokens
        phases["corpus_tokens"] = corpus.tokens
        # The token-cache lever: the same ids saved compactly and loaded back.
        dtype = np.uint16 if len(corpus.vocabulary) <= 2**16 else np.int32
        cache = Path(corpus_dir) / "cache.npy"
        np.save(cache, corpus.splits["train"].ids.astype(dtype))
        start = time.perf_counter()
        np.load(cache).astype(np.int32)
        phases["cached_ids_load_seconds"] = time.perf_counter() - start
        phases["cache_mib"] = cache.stat().st_size / 2**20
        cache.unlink()
        return corpus

    train.build_corpus = measured_build_corpus
    with tempfile.TemporaryDirectory() as logdir:
        start = time.perf_counter()
        code = common.train_capped(
            ["--corpus", str(corpus_dir), "--logdir", logdir, "--run-name", "run", "--epochs", "1",
             "--unknown-threshold", "0", "--validation-fraction", "0.1", "--test-fraction", "0"],
            max_steps=max_steps,
        )  # fmt: skip
        if code != 0:
            raise SystemExit(code)
        phases["seconds"] = time.perf_counter() - start
    common.child_result({**phases, "peak_rss_mib": common.peak_rss_mib()})


def main(argv=None) -> int:
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=float, nargs="+", help="corpus sizes in millions of words")
    parser.add_argument("--max-steps", type=int, default=30,
                        help="batches per epoch (training and validation)")  # fmt: skip
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.max_steps)
        return 0

    sizes = args.sizes or ([0.1, 1.0] if args.quick else [0.1, 1.0, 10.0])
    rows = []
    for millions in sizes:
        tokens = int(millions * 1_000_000)
        with tempfile.TemporaryDirectory() as folder:
            write_corpus(Path(folder), tokens)
            result = common.run_child(
                ["-m", "benchmarks.memory", "--child", folder, "--max-steps", str(args.max_steps)],
                timeout=3600,
            )
        if not result["ok"]:
            print(f"  {tokens:,} words: failed: {result.get('error')}")
            rows.append({"words": tokens, "peak RSS (MiB)": f"failed: {result.get('error')}"})
            continue
        row = {
            "words": result["corpus_tokens"],
            "vocabulary": result["vocabulary"],
            "peak RSS (MiB)": result["peak_rss_mib"],
            "peak after corpus (MiB)": result["peak_rss_after_corpus_mib"],
            "read text s": result["read_seconds"],
            "load cached ids s": result["cached_ids_load_seconds"],
            "cache MiB": result["cache_mib"],
            "run s": result["seconds"],
        }
        rows.append(row)
        print(f"  {row['words']:,} words: peak {row['peak RSS (MiB)']:.0f} MiB", flush=True)

    good = [r for r in rows if isinstance(r.get("peak RSS (MiB)"), float)]
    for previous, row in zip(good, good[1:]):
        # Marginal bytes per extra word: flat or falling means no worse than linear.
        row["extra bytes / extra word"] = (
            (row["peak RSS (MiB)"] - previous["peak RSS (MiB)"]) * 2**20 / (row["words"] - previous["words"])
        )
        row["memory ratio / size ratio"] = (row["peak RSS (MiB)"] / previous["peak RSS (MiB)"]) / (
            row["words"] / previous["words"]
        )
    for row in good:
        row["read / cached load"] = row["read text s"] / max(row["load cached ids s"], 1e-9)
    common.print_table(
        rows,
        ["words", "vocabulary", "peak RSS (MiB)", "peak after corpus (MiB)", "extra bytes / extra word",
         "memory ratio / size ratio", "read text s", "load cached ids s", "read / cached load", "run s"],
        title=f"Peak memory of a training run (default model, epochs cut to {args.max_steps} batches)",
    )  # fmt: skip
    largest = good[-1] if good else None
    if largest:
        verdict = "met" if largest["peak RSS (MiB)"] < 2048 else "not met"
        print(f"goal (under 2 GB at the largest size, {largest['words']:,} words): {verdict}")
    common.save_results("memory", args, {"max_steps": args.max_steps, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
