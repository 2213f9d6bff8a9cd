"""Benchmark 6: speed is not bought with quality. The defaults against Kneser-Ney on WikiText-2.

Trains with the command-line defaults on ../shared/data/wikitext2-train.txt (all of
it but the 10% validation share that early stopping watches; no test share), then
scores the run on wikitext2-test.txt with `python -m word_predictor.evaluate --json`,
both as child processes, exactly as a user would run them. The yardstick is the
interpolated Kneser-Ney trigram of ../shared/data/README.md (same normalisation,
unknown threshold 3), fitted and scored here in the same invocation with the same
word_predictor.scoring code as evaluate: a recurrent model should beat it on every figure.

    python -m benchmarks.quality --kneser-ney-only            # the yardstick alone, seconds
    python -m benchmarks.quality --quick                      # 1 epoch, defaults only
    python -m benchmarks.quality                              # 6 epochs, defaults
    python -m benchmarks.quality --variant "dropout 0.5=--dropout 0.5" --variant "gru=--cell gru"
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import common
from word_predictor import scoring
from word_predictor.corpus.files import read_tokens
from word_predictor.text.tokenizer import ASCII_WORDS

# Figures a model row is compared on, where its evaluate output has them (lower
# perplexity is better, higher everything else).
FIGURES = ("perplexity", "top1", "top3", "top5", "known_top1", "known_top5", "keystroke_savings")
# ../shared/data/README.md: interpolated Kneser-Ney trigram (discount 0.75) on
# wikitext2-test.txt. The trigram fitted below must reproduce these.
PUBLISHED_KNESER_NEY = {
    "perplexity": 192.9, "top1": 0.170, "top5": 0.396, "known_top1": 0.160, "known_top5": 0.337,
}  # fmt: skip
UNKNOWN_THRESHOLD = 3
DISCOUNT = 0.75


class KneserNeyTrigram:
    """Interpolated Kneser-Ney trigram, one discount D at every order (Chen & Goodman):

        P3(w | u v) = max(c(u v w) - D, 0) / c(u v .)  +  D N(u v .) / c(u v .)  P2(w | v)
        P2(w | v)   = max(N(. v w) - D, 0) / N(. v .)  +  D N(v .)   / N(. v .)  P1(w)
        P1(w)       = max(N(. w) - D, 0)   / N(. .)    +  D N(>0)    / N(. .)    1 / V

    c counts occurrences; N counts distinct words in the dotted places (continuation
    counts: N(. w) is how many different words come before w); N(>0) is how many words
    have N(. w) > 0. A context never seen falls through to the order below. P2 is kept
    as a dense (V, V) matrix, fine for WikiText-2's 4,703 words.
    """

    def __init__(self, segments: list[np.ndarray], vocabulary_size: int, discount: float = DISCOUNT):
        size, d = vocabulary_size, discount
        bigrams = np.unique(np.concatenate([s[:-1].astype(np.int64) * size + s[1:] for s in segments]))
        trigram_list = [(s[:-2].astype(np.int64) * size + s[1:-1]) * size + s[2:] for s in segments]
        trigrams, counts = np.unique(np.concatenate(trigram_list), return_counts=True)
        # P1 from how many distinct words precede w.
        precede = np.bincount(bigrams % size, minlength=size).astype(np.float64)
        unigram = (np.maximum(precede - d, 0) + d * np.count_nonzero(precede) / size) / bigrams.size
        # P2 from how many distinct words precede the bigram v w.
        middle, precede_vw = np.unique(trigrams % (size * size), return_counts=True)
        v, w = middle // size, middle % size
        total_v = np.bincount(v, weights=precede_vw, minlength=size)
        followers_v = np.bincount(v, minlength=size)
        backoff = np.where(total_v > 0, d * followers_v / np.maximum(total_v, 1), 1.0)
        bigram = backoff[:, None] * unigram[None, :]
        bigram[v, w] += (precede_vw - d) / total_v[v]
        self.bigram = bigram.astype(np.float32)  # (V, V): row v is P2(. | v)
        # P3 from raw trigram counts, grouped by context u v (trigrams are sorted by it).
        self.size, self.discount = size, d
        self.contexts, self.first, self.kinds = np.unique(
            trigrams // size, return_index=True, return_counts=True
        )  # contexts u v; where each one's trigrams start; how many different w follow it
        self.context_total = np.add.reduceat(counts, self.first).astype(np.float64)
        self.next_word, self.counts = trigrams % size, counts

    def distributions(self, before: np.ndarray, last: np.ndarray) -> np.ndarray:
        """(n,) ids two back and (n,) ids one back -> (n, V) P3(. | before last)."""
        rows = self.bigram[last].astype(np.float64)
        context = before.astype(np.int64) * self.size + last
        at = np.minimum(np.searchsorted(self.contexts, context), self.contexts.size - 1)
        seen = np.flatnonzero(self.contexts[at] == context)
        at = at[seen]
        kinds, total = self.kinds[at], self.context_total[at]
        rows[seen] *= (self.discount * kinds / total)[:, None]
        # One entry per (seen row, word that followed its context in training).
        row = np.repeat(seen, kinds)
        within = np.arange(kinds.sum()) - np.repeat(np.cumsum(kinds) - kinds, kinds)  # 0, 1, .. per row
        entry = np.repeat(self.first[at], kinds) + within
        rows[row, self.next_word[entry]] += (self.counts[entry] - self.discount) / np.repeat(total, kinds)
        return rows


def score_kneser_ney(train_file: Path, test_file: Path, batch_size: int = 1024) -> dict:
    """Fit the trigram on `train_file` and score every word of `test_file` that has two
    words before it, with the same scores code as evaluate. Keystroke savings twice:
    over known words as evaluate reports it, and with unknown words typed in full."""
    start = time.perf_counter()
    corpus = common.corpus_of([train_file], normalisation="ascii", window_size=2, unknown_threshold=UNKNOWN_THRESHOLD,
                              validation_fraction=0, test_fraction=0)  # fmt: skip
    vocabulary, train = corpus.vocabulary, corpus.splits["train"]
    model = KneserNeyTrigram(list(train.segments()), len(vocabulary))
    fitted = time.perf_counter() - start
    test_words = [word for piece in read_tokens(test_file, ASCII_WORDS) for word in piece]  # one file
    ids = vocabulary.encode(test_words)
    word_lengths = np.array([len(word) for word in test_words], np.int64)  # of the real words
    positions = np.arange(2, len(test_words))
    keyboard = scoring.PrefixIndex(vocabulary.tokens)
    tally, with_unknown = scoring.Tally(), scoring.Tally()
    for begin in range(0, positions.size, batch_size):
        at = positions[begin : begin + batch_size]
        targets = ids[at]
        probabilities = model.distributions(ids[at - 2], ids[at - 1])  # (batch, V)
        log_probabilities = scoring.target_log_probabilities(probabilities, targets)
        ranks = scoring.target_ranks(probabilities, targets)
        tally.add(log_probabilities, ranks, targets, keyboard.keystrokes(probabilities, targets))
        with_unknown.add(log_probabilities, ranks, targets,
                         keyboard.keystrokes(probabilities, targets, word_lengths[at]))  # fmt: skip
    figures = tally.summary()
    figures["keystroke_savings_unknown_typed"] = with_unknown.summary()["keystroke_savings"]
    figures["fit seconds"] = fitted
    figures["score seconds"] = time.perf_counter() - start - fitted
    return figures


def train_and_evaluate(name: str, flags: list[str], epochs: int, logdir: Path) -> dict:
    run_name = f"{name.replace(' ', '-').replace('=', '')}-{time.strftime('%H%M%S')}"
    train = [sys.executable, "-m", "word_predictor.train",
             "--corpus", str(common.data_file("wikitext2-train.txt")),
             "--test-fraction", "0", "--validation-fraction", "0.1", "--epochs", str(epochs),
             "--logdir", str(logdir), "--run-name", run_name, *flags]  # fmt: skip
    evaluate = [sys.executable, "-m", "word_predictor.evaluate", "--run", str(logdir / run_name),
                "--text", str(common.data_file("wikitext2-test.txt")), "--json"]  # fmt: skip
    print(f"  {name}: {shlex.join(train[1:])}", flush=True)
    start = time.perf_counter()
    trained = subprocess.run(train, cwd=common.REPO, capture_output=True, text=True)
    train_seconds = time.perf_counter() - start
    if trained.returncode != 0:
        return {"variant": name, "error": trained.stderr.strip()[-500:]}
    scored = subprocess.run(evaluate, cwd=common.REPO, capture_output=True, text=True)
    if scored.returncode != 0:
        return {"variant": name, "error": scored.stderr.strip()[-500:]}
    evaluated = json.loads(scored.stdout.strip().splitlines()[-1])
    metrics = json.loads((logdir / run_name / "metrics.json").read_text())
    history = [line for line in trained.stdout.splitlines() if "val_loss" in line]
    return {
        "variant": name,
        "flags": " ".join(flags),
        "run": str(logdir / run_name),
        "train_command": shlex.join(["python", *train[1:]]),
        "evaluate_command": shlex.join(["python", *evaluate[1:]]),
        "train seconds": train_seconds,
        "best epoch": metrics.get("best_epoch"),
        "epochs run": metrics.get("epochs_completed"),
        **{key: evaluated[key] for key in FIGURES if key in evaluated},
        "epoch log": history,
    }


def beats(row: dict, yardstick: dict) -> bool:
    """Better than the yardstick on every figure the row has."""
    shared = [key for key in FIGURES if key in row]
    return all(
        row[key] < yardstick[key] if key == "perplexity" else row[key] > yardstick[key] for key in shared
    )


def main(argv=None) -> int:
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, help="epochs to train (default: 6, or 1 with --quick)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=FLAGS",
                        help="also train with these extra train flags, e.g. 'gru=--cell gru'")  # fmt: skip
    parser.add_argument("--no-defaults", action="store_true", help="train only the --variant runs")
    parser.add_argument("--kneser-ney-only", action="store_true",
                        help="score the Kneser-Ney trigram yardstick only; train nothing")  # fmt: skip
    parser.add_argument("--logdir", type=Path, default=Path(common.RESULTS / "runs"),
                        help="where the runs are written (kept for benchmarks.latency --run)")  # fmt: skip
    args = parser.parse_args(argv)
    epochs = args.epochs or (1 if args.quick else 6)
    variants = [] if args.no_defaults or args.kneser_ney_only else [("defaults", [])]
    for text in [] if args.kneser_ney_only else args.variant:
        name, _, flags = text.partition("=")
        variants.append((name, shlex.split(flags)))
    print("  Kneser-Ney trigram: fitting on wikitext2-train.txt, scoring wikitext2-test.txt", flush=True)
    train_file, test_file = common.data_file("wikitext2-train.txt"), common.data_file("wikitext2-test.txt")
    kneser_ney = score_kneser_ney(train_file, test_file)
    drift = {key: {"ours": kneser_ney[key], "published": value} for key, value in PUBLISHED_KNESER_NEY.items()
             if abs(kneser_ney[key] - value) > (0.05 if key == "perplexity" else 0.0005)}  # fmt: skip
    rows = [train_and_evaluate(name, flags, epochs, args.logdir) for name, flags in variants]
    for row in rows:
        if "error" not in row:
            row["beats KN on all"] = beats(row, kneser_ney)
    shown = []
    for row in [{"variant": "Kneser-Ney trigram", **kneser_ney}, *rows]:
        shown.append({
            **row,
            **{key: f"{100 * row[key]:.1f}%" for key in FIGURES if key != "perplexity" and key in row},
            **({"perplexity": f"{row['perplexity']:.1f}"} if "perplexity" in row else {}),
        })  # fmt: skip
    trained = f" after at most {epochs} epoch(s)" if rows else ""
    common.print_table(
        shown,
        ["variant", "flags", *FIGURES, "beats KN on all", "best epoch", "epochs run", "train seconds"],
        title=f"wikitext2-test.txt{trained} on wikitext2-train.txt",
    )  # fmt: skip
    print(f"Kneser-Ney keystroke savings with unknown words typed in full: "
          f"{kneser_ney['keystroke_savings_unknown_typed']:.1%}; "
          f"fitted in {kneser_ney['fit seconds']:.1f} s, "
          f"scored in {kneser_ney['score seconds']:.1f} s")  # fmt: skip
    if drift:
        print(f"warning: the trigram no longer gives ../shared/data/README.md's figures: {drift}")
    for row in rows:
        if "error" in row:
            print(f"{row['variant']} failed: {row['error']}")
    common.save_results("quality", args, {"epochs": epochs, "kneser_ney": kneser_ney, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
