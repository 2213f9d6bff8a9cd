"""Training speed on the memory-mapped token store against the same ids in memory.

Reads wikitext2-train.txt into a token store under a temporary folder (as the trainer
does), then times training steps of the default model size on its train split twice
per round: batches gathered from the memory-mapped store, and from an in-memory copy
of the same ids. Windows and full-context lanes each; rounds alternate the order; the
figure is the median over rounds of (store step time / in-memory step time).

    python -m benchmarks.store_speed --rounds 5 --steps 30
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import common


def main(argv=None) -> int:
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per measurement")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.steps = 2, 10

    from word_predictor.config import Config
    from word_predictor.batches import context_for
    from word_predictor.corpus.splits import Split
    from word_predictor.model.compile import compile_model

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for mode in ("window", "full"):
            config = Config(context=mode, batch_size=128 if mode == "window" else 32)
            context = context_for(config)
            corpus = common.corpus_of([common.data_file("wikitext2-train.txt")], Path(folder), context=mode,
                                      normalisation="ascii", unknown_threshold=3, validation_fraction=0.1,
                                      test_fraction=0.0)  # fmt: skip
            facts = corpus.facts
            stored = corpus.splits["train"]
            assert isinstance(stored.ids, np.memmap), type(stored.ids)
            in_memory = Split(np.array(stored.ids), stored.bounds)
            model = context.training_model(facts, on_gpu=False)
            compile_model(model, config)
            ratios = []
            for round_ in range(args.rounds):
                seconds = {}
                order = [("store", stored), ("memory", in_memory)]
                for name, split in order if round_ % 2 == 0 else order[::-1]:
                    batches = context.training_batches(split, epoch=round_)
                    model.train_on_batch(*batches[0])  # warm
                    times = []
                    for step in range(1, args.steps + 1):
                        begin = time.perf_counter()
                        model.train_on_batch(*batches[step % len(batches)])
                        times.append(time.perf_counter() - begin)
                    seconds[name] = common.median(times)
                ratios.append(seconds["store"] / seconds["memory"])
                print(f"{mode} round {round_ + 1}: store / memory = {ratios[-1]:.3f}", flush=True)
            rows.append({"mode": mode, "rounds": args.rounds, "store / memory (median)": common.median(ratios),
                         "spread": common.spread(ratios)})  # fmt: skip
    common.print_table(rows, ["mode", "rounds", "store / memory (median)", "spread"],
                       title="training step time, memory-mapped store against in memory")  # fmt: skip
    common.save_results("store_speed", args, {"rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
