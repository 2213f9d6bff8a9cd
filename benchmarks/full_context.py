"""Full-context training against the PyTorch word-language-model recipe, on WikiText-2.

Both systems read one closed vocabulary and the same token streams, made by
word_predictor's own pipeline from the same flags (normalisation, unknown
threshold 3, full-context split layout, validation share 10%): the test split is
../shared/data/wikitext2-test.txt (--test-text), encoded with that vocabulary.
With --tokens N both files are cut to their first N tokens (a small corpus, where
the fixed costs of a run weigh most). The streams are made once, before either
side is timed, and handed to the yardstick in a file, so its process imports
PyTorch alone (the example's own reading of the text, ~0.1 s at 70k tokens, is
not counted); ours reads the text itself, as a user's run does.

    ours       python -m word_predictor.train --context full --layers 2 --units 200
               --embedding-dim 200 --bptt 35 --batch-size 20 --dropout 0.2 --epochs 6
               --test-text wikitext2-test.txt --tie-weights, which scores the test file
               at its end as evaluate --text would, one stream in one lane
               (Adam and the trainer's own schedule, as a user would run it; the output
               layer reuses the embedding matrix, the example's --tied, so the sizes stay
               the recipe's; --ours "" runs ours untied)
    yardstick  the recipe of the PyTorch word_language_model example (benchmarks/reference.py):
               2 x 200 LSTM, embedding 200, dropout 0.2, batch 20, bptt 35, plain SGD
               at learning rate 20 divided by 4 whenever the validation loss does not
               improve, gradient norm clipped at 0.25, weights uniform in +-0.1, the
               best epoch's model kept; test scored with 10 lanes as the example does

Each side runs in its own child process, rounds alternate which goes first, and
the table shows medians of wall time (training and test scoring) and test
perplexity, and their ratios ours / yardstick.

    python -m benchmarks.full_context --quick        # 1 epoch, 1 round
    python -m benchmarks.full_context --rounds 2     # 6 epochs
    python -m benchmarks.full_context --tokens 70000 --rounds 3   # the first 70k tokens of each file
    python -m benchmarks.full_context --gpu          # the GPU sizes: 2 x 650, batch 64, tokens/s
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import common

RECIPE = dict(layers=2, units=200, embedding_dim=200, bptt=35, batch_size=20, dropout=0.2, epochs=6)
GPU_RECIPE = dict(layers=2, units=650, embedding_dim=650, bptt=35, batch_size=64, dropout=0.5, epochs=1)


def data_files(tokens: int, folder: Path) -> dict[str, Path]:
    """{"train": file, "test": file}: WikiText-2's two files, or their first `tokens` tokens (0: whole)."""
    files = {"train": common.data_file("wikitext2-train.txt"), "test": common.data_file("wikitext2-test.txt")}
    return {name: common.first_tokens(path, tokens, folder) for name, path in files.items()} if tokens else files


def our_flags(recipe: dict, test_file: Path) -> list[str]:
    return ["--context", "full", "--layers", str(recipe["layers"]), "--units", str(recipe["units"]),
            "--embedding-dim", str(recipe["embedding_dim"]), "--bptt", str(recipe["bptt"]),
            "--batch-size", str(recipe["batch_size"]), "--dropout", str(recipe["dropout"]),
            "--epochs", str(recipe["epochs"]), "--patience", str(recipe["epochs"]),
            "--test-text", str(test_file), "--validation-fraction", "0.1",
            "--unknown-threshold", "3"]  # fmt: skip


def save_streams(recipe: dict, files: dict[str, Path], folder: Path) -> Path:
    """The vocabulary size and the train, validation and test id streams, as our trainer reads
    them, in one .npz file for the yardstick's process."""
    import numpy as np

    from word_predictor import train
    from word_predictor.training.run_corpus import corpus_for

    flags = ["--corpus", str(files["train"]), *our_flags(recipe, files["test"])]
    corpus = corpus_for(train.config_from_args(train.build_parser().parse_args(flags)))
    path = Path(folder) / "streams.npz"
    np.savez(path, vocabulary_size=len(corpus.vocabulary),
             **{name: split.compact().ids for name, split in corpus.splits.items()})  # fmt: skip
    return path


def run_yardstick(recipe: dict, streams: Path, gpu: bool = False) -> dict:
    """The PyTorch recipe in a child process: its wall time (less the thread-count check, which
    the example does not make), test perplexity and training speed."""
    child = ["-m", "benchmarks.full_context", "--child", json.dumps({"recipe": recipe, "streams": str(streams)})]
    result = common.run_child(child + (["--gpu"] if gpu else []))
    if result.get("ok"):
        result["wall_seconds"] -= result["thread_check_seconds"]
    return result


# ---------------------------------------------------------------- the yardstick (child process)


def pytorch_child(recipe: dict, streams_file: str, device: str) -> None:
    import numpy as np
    import torch

    from benchmarks.reference import LanguageModel

    with np.load(streams_file) as saved:
        size = int(saved["vocabulary_size"])
        streams = {name: saved[name] for name in ("train", "validation", "test")}
    torch.manual_seed(0)

    # (time, lanes) -> (time, lanes, vocabulary), the example's weights uniform in +-0.1
    model = LanguageModel(size, recipe["embedding_dim"], recipe["units"], recipe["layers"], recipe["dropout"],
                          initial_range=0.1).to(device)  # fmt: skip
    check_began = time.perf_counter()
    if device == "cpu":
        # PyTorch's own default (every core) suffers most when another process holds
        # a core; give the yardstick the faster of 1 and 2 threads, measured here (and
        # the seconds this check takes are not the example's: run_yardstick takes them out).
        torch.set_num_threads(_faster_thread_count(model, size, recipe, torch, torch.nn))
    check_seconds = time.perf_counter() - check_began

    learning_rate, best, best_state = 20.0, math.inf, None
    start = time.perf_counter()
    trained_tokens = 0
    for _ in range(recipe["epochs"]):
        trained_tokens += train_epoch(model, streams["train"], recipe, learning_rate, device)
        if device != "cpu":
            torch.cuda.synchronize()
        validation = average_loss(model, streams["validation"], recipe, device)
        if validation < best:
            best, best_state = validation, {k: v.clone() for k, v in model.state_dict().items()}
        else:
            learning_rate /= 4
    training_seconds = time.perf_counter() - start
    model.load_state_dict(best_state)
    test_loss = average_loss(model, streams["test"], recipe, device)
    common.child_result({
        "test_perplexity": math.exp(test_loss), "training_seconds": training_seconds,
        "tokens_per_second": trained_tokens / training_seconds, "threads": torch.get_num_threads(),
        "thread_check_seconds": check_seconds,
    })  # fmt: skip


def lanes_of(ids, count: int, device: str):
    """One stream -> (steps, lanes): lane b is one contiguous stretch."""
    import numpy as np
    import torch

    steps = len(ids) // count
    return torch.from_numpy(np.asarray(ids[: steps * count], np.int64).reshape(count, steps).T.copy()).to(device)


def zero_state(recipe: dict, count: int, device: str):
    import torch

    shape = (recipe["layers"], count, recipe["units"])
    return (torch.zeros(shape, device=device), torch.zeros(shape, device=device))


def train_epoch(model, ids, recipe: dict, learning_rate: float, device: str) -> int:
    """One epoch of the example's loop: plain SGD, clipped at 0.25; the number of targets trained."""
    import torch
    from torch import nn

    model.train()
    train, bptt, size = lanes_of(ids, recipe["batch_size"], device), recipe["bptt"], model.output.out_features
    state = zero_state(recipe, recipe["batch_size"], device)
    trained = 0
    for i in range(0, train.size(0) - 1, bptt):
        tokens, targets = train[i : i + bptt], train[i + 1 : i + 1 + bptt]
        tokens = tokens[: len(targets)]
        state = tuple(s.detach() for s in state)  # truncated backpropagation
        model.zero_grad()
        logits, state = model(tokens, state)
        loss = nn.functional.cross_entropy(logits.view(-1, size), targets.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(parameter.grad, alpha=-learning_rate)
        trained += targets.numel()
    return trained


def average_loss(model, ids, recipe: dict, device: str, count: int = 10) -> float:
    """The mean loss over a stream read in `count` lanes, as the example scores."""
    import torch
    from torch import nn

    model.eval()
    bptt, size = recipe["bptt"], model.output.out_features
    data, state, total, seen = lanes_of(ids, count, device), zero_state(recipe, count, device), 0.0, 0
    with torch.no_grad():
        for i in range(0, data.size(0) - 1, bptt):
            tokens, targets = data[i : i + bptt], data[i + 1 : i + 1 + bptt]
            tokens = tokens[: len(targets)]
            logits, state = model(tokens, state)
            loss = nn.functional.cross_entropy(logits.view(-1, size), targets.reshape(-1)).item()
            total += len(targets) * count * loss
            seen += len(targets) * count
    return total / seen


def _faster_thread_count(model, size, recipe, torch, nn) -> int:
    tokens = torch.randint(0, size, (recipe["bptt"], recipe["batch_size"]))
    seconds = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        times = []
        for _ in range(6):
            begin = time.perf_counter()
            logits, _ = model(tokens, None)
            nn.functional.cross_entropy(logits.view(-1, size), tokens.view(-1)).backward()
            times.append(time.perf_counter() - begin)
        seconds[threads] = sorted(times)[3]
    model.zero_grad()
    return min(seconds, key=seconds.get)


# ---------------------------------------------------------------- ours (CLI, as a user runs it)


def run_ours(recipe: dict, files: dict[str, Path], logdir: Path, name: str, env: dict, extra: list[str] = ()) -> dict:
    """Train and score with the command, as a user would; the training speed is the trainer's own
    per-epoch targets_per_second (training steps only, validation excluded), median over epochs."""
    import subprocess

    train = ["-m", "word_predictor.train", "--corpus", str(files["train"]), "--logdir",
             str(logdir), "--run-name", name, "--no-cache", *our_flags(recipe, files["test"]), *extra]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *train], cwd=common.REPO, capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env})  # fmt: skip
    wall = time.perf_counter() - start
    if done.returncode != 0:
        return {"ok": False, "error": done.stderr.strip()[-500:]}
    speeds = [float(x) for x in re.findall(r"targets_per_second: ([0-9.]+)", done.stdout)]
    metrics = json.loads((logdir / name / "metrics.json").read_text())
    return {
        "ok": True,
        "wall_seconds": wall,
        "test_perplexity": metrics["test"]["perplexity"],
        "tokens_per_second": common.median(speeds) if speeds else None,
        "epochs": metrics.get("epochs_completed"),
        "command": "python " + shlex.join(train),
        "epoch_lines": [line for line in done.stdout.splitlines() if "val" in line],
    }


def table_of(rows: dict[str, list[dict]]) -> list[dict]:
    """A row per side: medians of its runs, and their ratios to the yardstick's."""
    table = []
    yardstick = rows["PyTorch recipe"]
    for side, results in rows.items():
        if not results:
            continue
        wall = common.median([r["wall_seconds"] for r in results])
        perplexity = common.median([r["test_perplexity"] for r in results])
        row = {"system": side, "runs": len(results), "wall s (median)": wall, "spread": common.spread(
            [r["wall_seconds"] for r in results]), "test perplexity (median)": perplexity}  # fmt: skip
        speeds = [r["tokens_per_second"] for r in results if r.get("tokens_per_second")]
        row["training tokens/s (median)"] = common.median(speeds) if speeds else None
        if yardstick:
            row["tokens/s / yardstick"] = row["training tokens/s (median)"] / common.median(
                [r["tokens_per_second"] for r in yardstick]
            ) if speeds else None
            row["wall / yardstick"] = wall / common.median([r["wall_seconds"] for r in yardstick])
            row["per round"] = common.round_ratios(results, yardstick)
            row["perplexity / yardstick"] = perplexity / common.median([r["test_perplexity"] for r in yardstick])
        table.append(row)
    return table


def main(argv=None) -> int:
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="rounds, each running both sides once")
    parser.add_argument("--gpu", action="store_true", help="the GPU sizes (2 x 650, batch 64) on CUDA, JAX backend")
    parser.add_argument("--ours", default=None, metavar="FLAGS",
                        help="extra train flags for our side (default: --tie-weights on the CPU, none with --gpu); "
                             "write --ours=FLAG for one flag, --ours '' for none")
    parser.add_argument("--sides", nargs="+", choices=["ours", "yardstick"], default=["ours", "yardstick"],
                        help="run only these sides (settings searches run ours alone)")
    parser.add_argument("--tokens", type=int, default=0, metavar="N",
                        help="cut both files to their first N tokens (0: whole files)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    recipe = dict(GPU_RECIPE if args.gpu else RECIPE)
    if args.quick:
        recipe["epochs"] = 1
    if args.child:
        child = json.loads(args.child)
        pytorch_child(child["recipe"], child["streams"], "cuda" if args.gpu else "cpu")
        return 0
    env = {"KERAS_BACKEND": "jax"} if args.gpu else {}
    # Tied on the CPU (perplexity); the GPU figure is tokens/s at the example's own untied size.
    ours = args.ours if args.ours is not None else ("" if args.gpu else "--tie-weights")
    rows = {"ours": [], "PyTorch recipe": []}
    with tempfile.TemporaryDirectory() as folder:
        files = data_files(args.tokens, Path(folder))
        streams = save_streams(recipe, files, Path(folder)) if "yardstick" in args.sides else None
        for round_ in range(args.rounds):
            order = ["ours", "PyTorch recipe"] if round_ % 2 == 0 else ["PyTorch recipe", "ours"]
            wanted = {"ours": "ours" in args.sides, "PyTorch recipe": "yardstick" in args.sides}
            for side in filter(wanted.get, order):
                print(f"round {round_ + 1}: {side}", flush=True)
                if side == "ours":
                    result = run_ours(recipe, files, Path(folder), f"full-{round_}", env, shlex.split(ours))
                else:
                    result = run_yardstick(recipe, streams, args.gpu)
                if not result.get("ok"):
                    print(f"  failed: {result.get('error')}", flush=True)
                    continue
                print(f"  {result['wall_seconds']:.0f} s, test perplexity {result['test_perplexity']:.1f}", flush=True)
                rows[side].append(result)
    table = table_of(rows)
    common.print_table(table, ["system", "runs", "wall s (median)", "spread", "test perplexity (median)",
                               "wall / yardstick", "per round", "perplexity / yardstick", "training tokens/s (median)",
                               "tokens/s / yardstick"],
                       title=f"WikiText-2{f' (first {args.tokens:,} tokens)' if args.tokens else ''}, {recipe}")  # fmt: skip
    common.save_results("full_context", args, {"recipe": recipe, "tokens": args.tokens, "rows": table, "raw": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
