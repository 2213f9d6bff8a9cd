"""Which training graph is fastest on this machine: the open-length model, the
fixed-length unrolled one (what the trainer uses on a CPU), and either with XLA.

The yardstick is the open-length model, timed in the same process: every round times
one whole epoch of each variant in turn (after a warm-up epoch that traces every batch
shape), and the ratios are medians of per-round ratios.

    python -m benchmarks.training_graph                    # the default model on corpus/
    python -m benchmarks.training_graph --layers 2 --units 256 --embedding-dim 256 \\
        --corpus ../shared/data/wikitext2-train.txt --steps 60
    python -m benchmarks.training_graph --context full --layers 2 --units 200 --embedding-dim 200 \\
        --batch-size 20 --corpus ../shared/data/wikitext2-train.txt --steps 100   # lanes of bptt 35
"""

from __future__ import annotations

import time

from benchmarks.common import REPO, base_parser, median, print_table, save_results, spread
from word_predictor.config import Config
from word_predictor.batches import context_for
from word_predictor.model.factory import build_model
from word_predictor.model.compile import compile_model
from word_predictor.training.run_corpus import corpus_for

VARIANTS = {  # name: (fixed_length, jit_compile)
    "open length": (False, False),
    "fixed length, unrolled": (True, False),
    "open length + XLA": (False, True),
    "fixed length, unrolled + XLA": (True, True),
}


def main(argv: list[str] | None = None) -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(REPO / "corpus"), help="text to train on")
    parser.add_argument("--layers", type=int, default=Config.layers)
    parser.add_argument("--units", type=int, default=Config.units)
    parser.add_argument("--embedding-dim", type=int, default=Config.embedding_dim)
    parser.add_argument("--context", choices=["window", "full"], default="window")
    parser.add_argument("--batch-size", type=int, default=None, help="windows, or lanes (default: the trainer's)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default: 2 quick, 4 full)")
    parser.add_argument("--steps", type=int, default=None, help="steps per timed epoch (default: a whole epoch)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 4)
    config = Config(corpus=[args.corpus], layers=args.layers, units=args.units, embedding_dim=args.embedding_dim,
                    context=args.context, **({"batch_size": args.batch_size} if args.batch_size else {}))  # fmt: skip
    corpus = corpus_for(config)
    facts = corpus.facts
    train = corpus.splits["train"]
    steps = args.steps or (20 if args.quick else None)

    models = {}
    for name, (fixed_length, jit_compile) in VARIANTS.items():
        model = build_model(config, facts, "training", fixed_length=fixed_length)
        compile_model(model, config)
        model.jit_compile = jit_compile
        batches = context_for(config).training_batches(train, epoch=0)
        model.fit(batches, epochs=1, verbose=0)  # warm-up: traces every batch shape
        models[name] = (model, batches)

    timings: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for round_number in range(rounds):
        order = list(VARIANTS)[round_number % len(VARIANTS) :] + list(VARIANTS)[: round_number % len(VARIANTS)]
        for name in order:
            model, batches = models[name]
            start = time.perf_counter()
            model.fit(batches, epochs=1, verbose=0, steps_per_epoch=steps)
            timings[name].append(time.perf_counter() - start)
        print(f"  round {round_number + 1}/{rounds} done", flush=True)

    yardstick = timings["open length"]
    rows = [
        {
            "variant": name,
            "seconds (median)": median(seconds),
            "range": spread(seconds),
            "speed / open length": median([y / s for y, s in zip(yardstick, seconds)]),
        }
        for name, seconds in timings.items()
    ]
    size = (f"{config.context} context, {config.layers} x {config.cell} {config.units}, "
            f"embedding {config.embedding_dim}, batch {config.batch_size}")  # fmt: skip
    print_table(rows, ["variant", "seconds (median)", "range", "speed / open length"],
                f"Training graph, {size}, vocabulary {facts.vocabulary_size:,}, "
                f"{steps or len(next(iter(models.values()))[1])} steps a round")  # fmt: skip
    save_results("training_graph", args, {"size": size, "rows": rows, "timings": timings})


if __name__ == "__main__":
    main()
