"""Training on several devices and processes (word_predictor.training.distribute).

Every check runs JAX in subprocesses: JAX_NUM_CPU_DEVICES=2 gives one process two
virtual CPU devices, and two processes on 127.0.0.1 form a cluster (Gloo collectives).
These need JAX, so in CI they run in the JAX environment (marker `distributed`); in the
TensorFlow environment, which has no JAX, they skip.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import TINY_TEXT
from word_predictor import train

pytestmark = [
    pytest.mark.distributed,
    pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                       reason="needs JAX (CI runs these in its JAX environment)"),  # fmt: skip
]

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 600  # seconds per subprocess: JAX starts in ~5 s, a tiny run trains in seconds (minutes when busy)
# Two devices sum a step's gradients and losses in another order than one: float32 rounding.
LOSS_TOLERANCE = 1e-5
# An epoch's printed loss (4 digits) is a mean in which Keras weighs each step by its rows, the
# padded last one of a split window batch as a whole batch.
EPOCH_TOLERANCE = 2e-3
FLAGS = ["--backend", "jax", "--units", "8", "--embedding-dim", "4", "--batch-size", "16", "--unknown-threshold", "1",
         "--log-every", "0", "--patience", "5"]  # fmt: skip


def environment(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "JAX_NUM_CPU_DEVICES", "XLA_FLAGS")}
    env.update(PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", KERAS_BACKEND="jax", **extra)
    return env


# One process, two virtual devices: the same steps on one device, then on two.
SAME_STEPS = """
import json, numpy as np
from word_predictor.backend import keras
from word_predictor.config import Config, CorpusFacts
from word_predictor.batches import context_for
from word_predictor.corpus.splits import Split
from word_predictor.model.compile import compile_model
from word_predictor.training import distribute

ids = np.random.default_rng(0).integers(0, 30, 3000).astype(np.int32)
split = Split.from_lengths(ids, [1800, 1200])
report = {}
for context in ("window", "full"):
    config = Config(context=context, units=8, embedding_dim=4, batch_size=8, bptt=6, seed=3)
    ways = {"one": distribute.SINGLE, "two": distribute.start(2)}
    for name, parallel in ways.items():
        with distribute.scope(parallel):
            keras.utils.set_random_seed(config.seed)
            model = context_for(config).training_model(CorpusFacts(vocabulary_size=30), on_gpu=False)
            compile_model(model, config)
            batches = distribute.feed(context_for(config).training_batches(split, epoch=0), parallel)
            steps = [0, 1, 2, len(batches) - 1]  # a window epoch's last batch is short: 2990 windows, 8 a batch
            losses = [float(model.train_on_batch(*batches[step], return_dict=True)["loss"]) for step in steps]
        report[f"{context} {name}"] = losses
        if name == "two":
            report[f"{context} specs"] = {v.path: [str(axis) for axis in v.value.sharding.spec] for v in model.variables}
            report[f"{context} shards"] = {v.path: list(v.value.addressable_shards[0].data.shape)
                                           for v in model.variables if "/state_" in v.path}
            layout = distribute.distribution(parallel).get_data_layout((8, 5)).backend_layout
            report[f"{context} batch"] = [str(axis) for axis in layout.spec]
print(json.dumps(report))
"""


def test_two_devices_take_the_steps_one_device_takes_and_split_batch_and_state():
    shown = subprocess.run([sys.executable, "-c", SAME_STEPS], env=environment(JAX_NUM_CPU_DEVICES="2"), cwd=REPO,
                           capture_output=True, text=True, timeout=TIMEOUT, check=False)  # fmt: skip
    assert shown.returncode == 0, shown.stderr[-3000:]
    report = json.loads(shown.stdout.strip().splitlines()[-1])
    for context in ("window", "full"):
        assert report[f"{context} two"] == pytest.approx(report[f"{context} one"], rel=LOSS_TOLERANCE)
        assert report[f"{context} one"][0] != report[f"{context} one"][2]  # the steps did train
        assert report[f"{context} batch"][0] == "batch"  # each batch split by rows over the devices
        specs = report[f"{context} specs"]
        for path, spec in specs.items():
            if "/state_" in path:
                assert spec == ["batch", "None"], path  # one lane's state beside that lane's rows
            else:
                assert set(spec) <= {"None"}, path  # every weight replicated
    assert report["full shards"] and all(shape == [4, 8] for shape in report["full shards"].values())
    assert not report["window shards"]  # windows carry no state


# One process, a one-device mesh: fit() with the trainer's placement compiles its steps in the first
# epoch only (the step used to compile again at the second epoch's start, and for each evaluation).
COMPILES_ONCE = """
import json, jax, numpy as np
from word_predictor.backend import keras
from word_predictor.config import Config, CorpusFacts
from word_predictor.batches import context_for
from word_predictor.corpus.splits import Split
from word_predictor.model.compile import compile_model
from word_predictor.training import distribute

compiles = []
COMPILE = "/jax/core/compile/backend_compile_duration"
jax.monitoring.register_event_duration_secs_listener(
    lambda event, seconds, **kw: compiles.append(event) if event == COMPILE else None)
ids = np.random.default_rng(0).integers(0, 30, 3000).astype(np.int32)
split = Split.from_lengths(ids, [1800, 1200])
parallel = distribute.start(1)
report = {}
for context in ("window", "full"):
    config = Config(context=context, units=8, embedding_dim=4, batch_size=8, bptt=6, seed=3)
    with distribute.scope(parallel):
        model = context_for(config).training_model(CorpusFacts(vocabulary_size=30), on_gpu=False)
        compile_model(model, config)
        batches = distribute.feed(context_for(config).training_batches(split, epoch=0), parallel)
        validation = distribute.feed(context_for(config).training_batches(split, epoch=1), parallel)
        counted = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: report.setdefault(context, []).append(len(compiles)))
        model.fit(batches, validation_data=validation, epochs=3, steps_per_epoch=3, validation_steps=2, verbose=0,
                  callbacks=[*distribute.placement(parallel), counted])
print(json.dumps(report))
"""


def test_a_one_device_mesh_compiles_the_steps_in_the_first_epoch_only():
    shown = subprocess.run([sys.executable, "-c", COMPILES_ONCE], env=environment(), cwd=REPO, capture_output=True,
                           text=True, timeout=TIMEOUT, check=False)  # fmt: skip
    assert shown.returncode == 0, shown.stderr[-3000:]
    report = json.loads(shown.stdout.strip().splitlines()[-1])
    for context, compiled in report.items():
        assert compiled[0] > 0 and compiled[1] == compiled[2] == compiled[0], (context, compiled)


@pytest.mark.parametrize("flags, message", [
    (["--devices", "2", "--backend", "tensorflow"], "add --backend jax"),
    (["--devices", "2", "--backend", "torch"], "add --backend jax"),
    (["--num-processes", "2", "--backend", "jax"], "go with --coordinator"),
    (["--coordinator", "127.0.0.1:1", "--num-processes", "2", "--process-id", "2", "--backend", "jax"],
     "--process-id must be below"),
    (["--coordinator", "127.0.0.1:1", "--backend", "jax"], "needs --num-processes"),
    (["--devices", "2", "--backend", "jax", "--histograms"], "drop it with --devices"),
    (["--devices", "0"], "--devices"),
])  # fmt: skip
def test_settings_that_cannot_train_together_are_refused_before_anything_is_written(
    tiny_corpus, tmp_path, capsys, flags, message
):
    logdir = tmp_path / "logs"
    try:
        code = train.main(["--corpus", str(tiny_corpus), "--logdir", str(logdir), *flags])
    except SystemExit as exit:  # argparse refuses a flag's value itself
        code = exit.code
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1, error
    assert not logdir.exists()


REFUSALS = """
import sys, io, contextlib, json
from word_predictor import train
results = []
for flags in (["--devices", "3"], ["--devices", "2", "--batch-size", "5"], ["--devices", "all", "--batch-size", "7"]):
    error = io.StringIO()
    with contextlib.redirect_stderr(error):
        code = train.main(["--corpus", sys.argv[1], "--logdir", sys.argv[2], "--backend", "jax", *flags])
    results.append([code, error.getvalue()])
print(json.dumps(results))
"""


def test_more_devices_than_exist_and_a_batch_that_does_not_split_are_refused(tiny_corpus, tmp_path):
    logdir = tmp_path / "logs"
    shown = subprocess.run([sys.executable, "-c", REFUSALS, str(tiny_corpus), str(logdir)], cwd=REPO,
                           env=environment(JAX_NUM_CPU_DEVICES="2"), capture_output=True, text=True,
                           timeout=TIMEOUT, check=False)  # fmt: skip
    assert shown.returncode == 0, shown.stderr[-3000:]
    (more, uneven, uneven_all) = json.loads(shown.stdout.strip().splitlines()[-1])
    assert more[0] == 2 and "3 devices asked for, but this process has 2 cpu" in more[1]
    assert uneven[0] == 2 and "--batch-size: a batch of 5 does not split evenly over 2 devices" in uneven[1]
    assert uneven_all[0] == 2 and "over 2 devices" in uneven_all[1]
    for _, error in (more, uneven, uneven_all):
        assert len(error.strip().splitlines()) == 1, error
    assert not logdir.exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_pair(tmp_path: Path, name: str, *flags: str) -> list[tuple[subprocess.Popen, Path]]:
    """Two processes of one run on loopback; each one's output goes to tmp_path/NAME-I.log."""
    port = free_port()
    pair = []
    for process in (0, 1):
        log = tmp_path / f"{name}-{process}.log"
        command = [sys.executable, "-m", "word_predictor.train", *flags, "--coordinator", f"127.0.0.1:{port}",
                   "--num-processes", "2", "--process-id", str(process)]  # fmt: skip
        with open(log, "w") as stream:
            pair.append((subprocess.Popen(command, cwd=tmp_path, env=environment(), stdout=stream,
                                          stderr=subprocess.STDOUT), log))  # fmt: skip
    return pair


def finish(pair) -> list[str]:
    outputs = []
    for process, log in pair:
        try:
            process.wait(timeout=TIMEOUT)
        finally:
            process.kill()
        outputs.append(log.read_text())
        assert process.returncode == 0, outputs[-1][-3000:]
    return outputs


def epoch_losses(output: str) -> list[str]:
    """The loss each finished epoch printed ("Epoch 1/3 - loss: 3.271 - ...")."""
    return [line.split(" - loss: ")[1].split(" ")[0] for line in output.splitlines()
            if line.startswith("Epoch ") and " - loss: " in line and ": step " not in line]  # fmt: skip


def test_two_processes_train_one_run_that_resumes_after_a_kill_and_predicts(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(TINY_TEXT * 150, encoding="utf-8")  # ~6,000 words: a few seconds an epoch
    common = ["--corpus", str(corpus), "--logdir", "logs", *FLAGS]
    single = subprocess.run([sys.executable, "-m", "word_predictor.train", *common, "--epochs", "1",
                             "--logdir", "single"], cwd=tmp_path, env=environment(), capture_output=True,
                            text=True, timeout=TIMEOUT, check=False)  # fmt: skip
    assert single.returncode == 0, single.stderr[-3000:]

    pair = start_pair(tmp_path, "first", *common, "--epochs", "3", "--run-name", "pair")
    state = tmp_path / "logs" / "pair" / "checkpoint" / "state.json"
    deadline = time.monotonic() + TIMEOUT
    while not (state.is_file() and json.loads(state.read_text()).get("epochs_completed")):
        assert all(process.poll() is None for process, _ in pair), [log.read_text()[-2000:] for _, log in pair]
        assert time.monotonic() < deadline, "the pair never finished an epoch"
        time.sleep(0.05)
    for process, _ in pair:  # SIGKILL: JAX's preemption notifier catches SIGTERM
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    killed = [epoch_losses(log.read_text()) for _, log in pair]
    assert killed[0] and killed[1][: len(killed[0])] == killed[0][: len(killed[1])]
    # The same first epoch as one process: its mean over steps (each step's loss equals one device's,
    # test above) differs only in the weight Keras gives the padded last batch, and in rounding.
    assert float(killed[0][0]) == pytest.approx(float(epoch_losses(single.stdout)[0]), abs=EPOCH_TOLERANCE)

    resumed = finish(start_pair(tmp_path, "resumed", "--resume", "logs/pair", "--logdir", "logs", "--backend", "jax"))
    assert "resuming logs/pair after epoch" in resumed[0]
    assert epoch_losses(resumed[0]) == epoch_losses(resumed[1])  # every process reports the same losses
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == [".cache", "pair"]  # one run folder
    metrics = json.loads((tmp_path / "logs" / "pair" / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 3

    predicted = subprocess.run([sys.executable, "-m", "word_predictor.predict", "--backend", "jax", "--run",
                                "logs/pair", "the cat sat on the"], cwd=tmp_path, env=environment(),
                               capture_output=True, text=True, timeout=TIMEOUT, check=False)  # fmt: skip
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert "Prediction:" in predicted.stdout


def test_two_processes_train_a_full_context_run_each_with_its_own_lanes(tmp_path):
    """Full context on two processes: each carries the state of its own lanes, both report the
    losses one process reports, and the one run folder they leave is scored by evaluate."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(TINY_TEXT * 60, encoding="utf-8")
    common = ["--corpus", str(corpus), *FLAGS, "--context", "full", "--bptt", "8", "--batch-size", "4",
              "--epochs", "2", "--test-fraction", "0.1"]  # fmt: skip
    single = subprocess.run([sys.executable, "-m", "word_predictor.train", *common, "--logdir", "single"],
                            cwd=tmp_path, env=environment(), capture_output=True, text=True, timeout=TIMEOUT,
                            check=False)  # fmt: skip
    assert single.returncode == 0, single.stderr[-3000:]
    outputs = finish(start_pair(tmp_path, "full", *common, "--logdir", "logs", "--run-name", "pair"))
    assert epoch_losses(outputs[0]) == epoch_losses(outputs[1])  # every process reports the same losses
    # Lanes are whole batches' rows, none padded: every step's loss is the one device's (first test).
    assert [float(loss) for loss in epoch_losses(outputs[0])] == pytest.approx(
        [float(loss) for loss in epoch_losses(single.stdout)], abs=EPOCH_TOLERANCE)
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == [".cache", "pair"]
    scored = subprocess.run([sys.executable, "-m", "word_predictor.evaluate", "--backend", "jax", "--run", "logs/pair",
                             "--json"], cwd=tmp_path, env=environment(), capture_output=True, text=True,
                            timeout=TIMEOUT, check=False)  # fmt: skip
    assert scored.returncode == 0, scored.stderr[-3000:]
    assert json.loads(scored.stdout)["tokens"] > 0


def start_waiting(tmp_path: Path, port: int, process_id: int, timeout: str) -> subprocess.Popen:
    """One process of two, whose partner never comes: it waits to join the cluster."""
    command = [sys.executable, "-m", "word_predictor.train", *FLAGS, "--corpus", str(tmp_path / "missing"),
               "--logdir", str(tmp_path / "logs"), "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2",
               "--process-id", str(process_id), "--coordinator-timeout", timeout]  # fmt: skip
    return subprocess.Popen(command, cwd=tmp_path, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


@pytest.mark.parametrize("process_id", [0, 1])  # 0: waits for the others; 1: for a coordinator that is not there
def test_the_wait_to_join_ends_at_coordinator_timeout_with_one_line(tmp_path, process_id):
    began = time.monotonic()
    process = start_waiting(tmp_path, free_port(), process_id, "2")
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 1, err[-3000:]
    assert err.splitlines() == [f"word_predictor.train: error: --coordinator: the coordinator at 127.0.0.1:"
                                f"{process.args[process.args.index('--coordinator') + 1].split(':')[1]} or another of "
                                "the 2 processes did not answer within 2 s; start every process, or give a longer "
                                "--coordinator-timeout"]  # fmt: skip
    assert time.monotonic() - began < 120  # JAX starts in seconds; its own limit would abort after 62 s
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_end_the_wait_to_join_at_once(tmp_path, stop):
    port = free_port()
    process = start_waiting(tmp_path, port, 0, "600")
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:  # process 0 listens once it waits for the others
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert process.poll() is None, process.communicate()[1][-3000:]
        time.sleep(0.2)
    time.sleep(0.5)
    process.send_signal(stop)
    sent = time.monotonic()
    out, err = process.communicate(timeout=60)
    assert time.monotonic() - sent < 30
    assert process.returncode == 130 and err.splitlines() == ["word_predictor.train: interrupted"], err[-3000:]
