"""Training on several devices and processes (keras.distribution on JAX): what it costs, what it gains.

CPU (the default), each row a fresh child process, rounds interleaved, medians:
  - the distributed path on a one-device mesh against the plain path (the overhead of
    ProcessBatches, the sharded jit and the data placement; goal <= 1.05x), for the
    default window model (1 x 256 LSTM, batch 128) and a full-context one (1 x 256, bptt 35,
    32 lanes), both on WikiText-2 with the vocabulary capped at 5,000 words;
  - two processes on 127.0.0.1 (one CPU device each, Gloo collectives) against one process
    with the same global batch ("two processes / one": how many times longer their steps take).
GPU (--gpu): the 2 x 650 full-context model (embedding 650, bptt 35) on 1, 2, ... N local
devices, 64 lanes per device (weak scaling: the global batch grows with the devices),
tokens/s and the scaling efficiency, tokens/s(n) / (n x tokens/s(1)).

    python -m benchmarks.distributed --quick          # CPU, 2 rounds of short epochs
    python -m benchmarks.distributed --rounds 5       # CPU
    python -m benchmarks.distributed --gpu            # on a machine with CUDA GPUs and JAX with CUDA

The speed is training steps only (validation, saving and monitoring excluded): the time of
each epoch after the first (which compiles), median over epochs.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time

from benchmarks import common

# The vocabulary capped at 5,000 words on the CPU: the output layer (256 x 33,278 at WikiText-2's
# full vocabulary) would make each run minutes long on 2 cores, and the question is the overhead.
CPU_MODELS = {
    "window, 1 x 256, batch 128": dict(context="window", layers=1, units=256, embedding_dim=128, batch_size=128,
                                       max_vocabulary=5000),
    "full, 1 x 256, bptt 35, 32 lanes": dict(context="full", layers=1, units=256, embedding_dim=128, batch_size=32,
                                             max_vocabulary=5000),
}
GPU_MODEL = dict(context="full", layers=2, units=650, embedding_dim=650, batch_size=64, dropout=0.5)


def child(spec: dict) -> None:
    """In a fresh process: time `spec["epochs"]` epochs of `spec["steps"]` steps, report on process 0."""
    from word_predictor import backend

    backend.select("jax")
    from word_predictor.backend import keras
    from word_predictor.config import Config
    from word_predictor.batches import context_for
    from word_predictor.model.compile import compile_model
    from word_predictor.training.run_corpus import corpus_for
    from word_predictor.training import distribute

    parallel = distribute.SINGLE
    if spec["path"] == "distributed":
        parallel = distribute.start(spec["devices"], spec.get("coordinator"), spec.get("num_processes"),
                                    spec.get("process_id"))  # fmt: skip
    config = Config(corpus=[str(common.data_file("wikitext2-train.txt"))], **spec["model"])
    corpus = corpus_for(config, cache_dir=spec["cache"])
    facts = corpus.facts
    context = context_for(config)
    with distribute.scope(parallel):
        keras.utils.set_random_seed(0)
        model = context.training_model(facts, on_gpu=backend.gpu_available())
        compile_model(model, config)
        training = context.training_batches(corpus.splits["train"], epoch=0)
        batches = distribute.feed(training, parallel)
        timer = epoch_timer()
        model.fit(batches, epochs=spec["epochs"], steps_per_epoch=spec["steps"],
                  callbacks=[timer, *distribute.placement(parallel)], verbose=0)  # as the trainer: training.callbacks
    targets_per_step = training.targets_per_epoch / len(training)  # the context's own count, padding left out
    seconds = common.median(timer.seconds[1:])
    if parallel.writes:
        common.child_result({"tokens_per_second": spec["steps"] * targets_per_step / seconds,
                             "epoch_seconds": timer.seconds, "devices": parallel.device_count})  # fmt: skip


def epoch_timer():
    """A Keras callback keeping each epoch's seconds (made here: Keras loads after the backend is chosen)."""
    from word_predictor.backend import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []
            self._begin = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._begin = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._begin)

    return EpochTimer()


def run(spec: dict, env: dict | None = None) -> dict:
    result = common.run_child(["-m", "benchmarks.distributed", "--child", json.dumps(spec)], env=env)
    shown = {k: spec.get(k) for k in ("path", "devices", "num_processes", "process_id")}
    print(f"{spec['model']['context']} {shown}: {result.get('tokens_per_second')} tokens/s", flush=True)
    return result


def run_pair(spec: dict) -> dict:
    """Two processes of one cluster on 127.0.0.1; process 0's result."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    shared = {**spec, "path": "distributed", "devices": 1, "coordinator": f"127.0.0.1:{port}", "num_processes": 2}
    other = subprocess.Popen([sys.executable, "-m", "benchmarks.distributed", "--child",
                              json.dumps({**shared, "process_id": 1})], cwd=common.REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        return run({**shared, "process_id": 0})
    finally:
        other.wait(timeout=600)


def cpu(args, cache: str) -> list[dict]:
    rows = []
    for name, model in CPU_MODELS.items():
        spec = {"model": model, "steps": args.steps, "epochs": args.epochs, "cache": cache}
        speeds: dict[str, list[float]] = {"plain": [], "distributed, 1 device": [], "one process": [],
                                          "two processes": []}  # fmt: skip
        for _ in range(args.rounds):  # interleaved: a drift in the machine's load hits every side
            speeds["plain"].append(run({**spec, "path": "plain"}).get("tokens_per_second"))
            speeds["distributed, 1 device"].append(
                run({**spec, "path": "distributed", "devices": 1}).get("tokens_per_second"))
            speeds["one process"].append(speeds["plain"][-1])
            speeds["two processes"].append(run_pair(spec).get("tokens_per_second"))
        medians = {side: common.median([s for s in values if s]) if any(values) else None
                   for side, values in speeds.items()}  # fmt: skip
        rows.append({"model": name, "plain tokens/s": medians["plain"],
                     "distributed tokens/s": medians["distributed, 1 device"],
                     "overhead": _ratio(medians["plain"], medians["distributed, 1 device"]),
                     "two processes tokens/s": medians["two processes"],
                     "two processes / one": _ratio(medians["one process"], medians["two processes"]),
                     "runs": speeds})  # fmt: skip
    common.print_table(rows, ["model", "plain tokens/s", "distributed tokens/s", "overhead",
                              "two processes tokens/s", "two processes / one"],
                       title=f"CPU, {args.rounds} rounds, {args.steps} steps an epoch, medians")  # fmt: skip
    return rows


def gpu(args, cache: str) -> list[dict]:
    # Counted in a child: JAX in this process would take the GPUs' memory from the children.
    counted = subprocess.run([sys.executable, "-c", "import jax; print(len(jax.devices('gpu')))"],
                             capture_output=True, text=True, check=False)  # fmt: skip
    if counted.returncode != 0:
        sys.exit("benchmarks.distributed --gpu: JAX sees no GPU here (install jax[cuda12] on a CUDA machine)")
    count = int(counted.stdout.split()[-1])
    rows, single = [], None
    for devices in range(1, count + 1):
        model = {**GPU_MODEL, "batch_size": GPU_MODEL["batch_size"] * devices}
        result = run({"model": model, "steps": args.steps, "epochs": args.epochs, "cache": cache,
                      "path": "distributed", "devices": devices})  # fmt: skip
        speed = result.get("tokens_per_second")
        single = single or speed
        rows.append({"devices": devices, "global batch": model["batch_size"], "tokens/s": speed,
                     "efficiency": speed / (devices * single) if speed and single else None,
                     "error": result.get("error")})  # fmt: skip
    common.print_table(rows, ["devices", "global batch", "tokens/s", "efficiency", "error"],
                       title="GPU, 2 x 650 full context, 64 lanes per device")
    return rows


def _ratio(reference, other):
    """How many times longer `other` takes than `reference` (speeds: reference / other)."""
    return reference / other if reference and other else None


def main(argv=None) -> int:
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--gpu", action="store_true", help="1, 2, ... N local GPUs, 2 x 650 full context")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every CPU side, interleaved")
    parser.add_argument("--steps", type=int, default=60, help="training steps an epoch")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run; the first (compiling) is not timed")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0
    if args.quick:
        args.rounds, args.steps, args.epochs = 2, 20, 3
    with tempfile.TemporaryDirectory() as cache:
        rows = gpu(args, cache) if args.gpu else cpu(args, cache)
    common.save_results("distributed-gpu" if args.gpu else "distributed", args, {"rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
