"""Kill training for real (SIGKILL) and resume it: nothing lost, nothing counted twice.

    python -m word_predictor.train ...          epoch 1 done ... epoch 2, batch k  <- SIGKILL
    python -m word_predictor.train --resume RUN  epoch 2 again ... epoch 4, complete

The resumed run must end with every epoch once, TensorBoard steps neither
duplicated nor missing, and an optimiser that has counted every step.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import TINY_TEXT
from word_predictor import engines, evaluate, folder_files, monitoring, predict, rundir, train
from word_predictor.batches.windows import window_starts
from word_predictor.config import load_config
from word_predictor.training.checkpoint import read_state
from word_predictor.training.run_corpus import corpus_for

pytestmark = [pytest.mark.slow, pytest.mark.backend]

REPO = Path(__file__).resolve().parents[1]
EPOCHS = 4
LOG_EVERY = 7  # not a divisor of the steps per epoch, so the global step must carry over exactly
FLAGS = ["--units", "8", "--embedding-dim", "4", "--unknown-threshold", "1", "--epochs", str(EPOCHS),
         "--batch-size", "4", "--log-every", str(LOG_EVERY), "--patience", "100"]  # fmt: skip
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def start_training(argv: list[str], output: Path, *prefix: str) -> subprocess.Popen:
    # Output to a file, not a pipe: a full pipe would stall the trainer.
    with open(output, "wb") as sink:
        return subprocess.Popen(
            [sys.executable, *prefix, *argv], cwd=REPO, env=ENV, stdout=sink, stderr=subprocess.STDOUT
        )


def wait_for(condition, process: subprocess.Popen, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process.poll() is not None:
            pytest.fail(f"training ended (exit {process.returncode}) before {what}")
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"timed out waiting for {what}")


def steps_on_disk(folder: Path, tag: str) -> list[int]:
    """Steps of `tag` in the event files as they are now (a last record still being written is left out)."""
    steps = []
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in monitoring.read_events(path):
            steps += [event.step for value in event.summary.value if value.tag == tag]
    return steps


def logged_steps(folder: Path) -> dict[str, list[int]]:
    """Every tag's steps as TensorBoard reads them, duplicates kept (no purging of restarts)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"tensors": 0}, purge_orphaned_data=False)
    accumulator.Reload()
    return {tag: [event.step for event in accumulator.Tensors(tag)] for tag in accumulator.Tags()["tensors"]}


def one_line(err: str, prog: str) -> str:
    assert "Traceback" not in err
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"word_predictor.{prog}: error: "), err
    return lines[0]


@pytest.fixture
def corpus_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text(TINY_TEXT * 30, encoding="utf-8")
    return folder


def test_sigkill_mid_epoch_then_resume_loses_and_repeats_nothing(corpus_folder, tmp_path, capsys):
    logdir = tmp_path / "logs"
    run = logdir / "killed"
    argv = ["--corpus", str(corpus_folder), "--logdir", str(logdir), "--run-name", "killed", *FLAGS]
    trainer = start_training(argv, tmp_path / "first.log", "-m", "word_predictor.train")
    try:
        wait_for(lambda: read_state(run).get("epochs_completed", 0) >= 1, trainer, "the first epoch ended")

        # While it trains: a second trainer with the same name, a resume, predict and
        # evaluate are all refused, and none of them touches the run.
        assert train.main(argv) == 1
        assert "already exists; choose another --run-name" in one_line(capsys.readouterr().err, "train")
        assert train.main(["--resume", str(run)]) == 1
        assert "is being trained by another process" in one_line(capsys.readouterr().err, "train")
        assert predict.main(["--run", str(run), "the cat"]) == 1
        assert f"run {run} is incomplete" in one_line(capsys.readouterr().err, "predict")

        # Kill it once the epoch under way has logged batches past the checkpoint,
        # events that the resumed run must not count twice.
        def stray_batches():
            state = read_state(run)
            beyond = [
                s for s in steps_on_disk(run / "train", "batch_loss") if s > state.get("global_step", 0)
            ]
            return state.get("epochs_completed", 0) < EPOCHS - 1 and beyond

        wait_for(stray_batches, trainer, "batches logged past the checkpoint")
        trainer.send_signal(signal.SIGKILL)
        assert trainer.wait(timeout=30) == -signal.SIGKILL
    finally:
        if trainer.poll() is None:
            trainer.kill()

    state = read_state(run)
    completed = state["epochs_completed"]
    assert 1 <= completed < EPOCHS and not rundir.is_complete(run)
    assert max(steps_on_disk(run / "train", "batch_loss")) > state["global_step"]

    # The interrupted run is refused by name, and not silently replaced by another.
    assert predict.main(["--run", str(run), "the cat"]) == 1
    assert f"--resume {run}" in one_line(capsys.readouterr().err, "predict")
    assert evaluate.main(["--logdir", str(logdir)]) == 1
    assert "no complete run" in one_line(capsys.readouterr().err, "evaluate")

    resumed = subprocess.run(
        [sys.executable, "-m", "word_predictor.train", "--resume", str(run)],
        cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert f"resuming {run} after epoch {completed}" in resumed.stdout
    assert "Traceback" not in resumed.stderr
    # Keras numbers the epochs it trains: only the remaining ones ran.
    assert f"Epoch {completed}/{EPOCHS}" not in resumed.stdout
    assert f"Epoch {completed + 1}/{EPOCHS}" in resumed.stdout

    # Complete, with every requested epoch.
    assert rundir.is_complete(run)
    assert read_state(run)["epochs_completed"] == EPOCHS
    assert json.loads((run / "metrics.json").read_text())["epochs_completed"] == EPOCHS

    config, _ = load_config(run / "config.json")
    split = corpus_for(config).splits["train"]
    steps_per_epoch = math.ceil(
        window_starts(split.bounds, config.window_size).size / config.batch_size
    )
    total_steps = EPOCHS * steps_per_epoch
    assert read_state(run)["global_step"] == total_steps

    # TensorBoard: each epoch once, each logged batch once, nothing missing.
    epochs = list(range(EPOCHS))
    train_tags = logged_steps(run / "train")
    validation_tags = logged_steps(run / "validation")
    for tag in (
        "epoch_loss",
        "epoch_accuracy",
        "epoch_top5_accuracy",
        "epoch_perplexity",
        "epoch_learning_rate",
    ):
        assert train_tags[tag] == epochs, tag
    for tag in ("epoch_loss", "epoch_accuracy", "epoch_top5_accuracy", "epoch_perplexity"):
        assert validation_tags[tag] == epochs, tag
    assert all(steps == epochs for tag, steps in train_tags.items() if tag.startswith("epoch_"))
    assert all(steps == epochs for tag, steps in validation_tags.items() if tag.startswith("epoch_"))
    assert train_tags["batch_loss"] == list(range(LOG_EVERY, total_steps + 1, LOG_EVERY))
    assert logged_steps(run / "samples")["next_word_predictions"] == epochs + [EPOCHS]  # then the kept model
    assert logged_steps(run / "test")["epoch_loss"] == [EPOCHS - 1]
    description = logged_steps(run)
    assert description["model_summary"] == [0] and description["configuration"] == [0]

    # The optimiser carried on counting: the resume checkpoint holds the total.
    last = rundir.load_model(run / "checkpoint" / "last.keras", compile=True)
    assert int(last.optimizer.iterations.numpy()) == total_steps

    assert predict.main(["--run", str(run), "the cat"]) == 0
    assert evaluate.main(["--run", str(run)]) == 0


KILL_DURING_SAVE = """
import os, signal, sys
from pathlib import Path

from word_predictor import train
import keras

real_save = keras.Model.save
calls = []

def save(model, path, *args, **kwargs):
    calls.append(path)
    real_save(model, path, *args, **kwargs)
    if len(calls) == 3:  # epoch 1: model.keras, last.keras; epoch 2: model.keras ...
        data = Path(path).read_bytes()
        Path(path).write_bytes(data[: len(data) // 2])  # ... half on disk when the power goes
        print("killed while saving", path, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

keras.Model.save = save
sys.exit(train.main(sys.argv[1:]))
"""


def test_sigkill_while_saving_never_leaves_a_corrupt_model(corpus_folder, tmp_path, capsys):
    logdir = tmp_path / "logs"
    run = logdir / "saving"
    argv = ["--corpus", str(corpus_folder), "--logdir", str(logdir), "--run-name", "saving",
            "--units", "8", "--embedding-dim", "4", "--unknown-threshold", "1", "--epochs", "2",
            "--batch-size", "32", "--patience", "100"]  # fmt: skip
    trainer = start_training(argv, tmp_path / "saving.log", "-c", KILL_DURING_SAVE)
    assert trainer.wait(timeout=300) == -signal.SIGKILL
    log = (tmp_path / "saving.log").read_text()
    assert "killed while saving" in log and ".model.partial.keras" in log, log[-3000:]

    # The half-written file lies beside the good model, which was never touched.
    assert (run / ".model.partial.keras").is_file()
    good = rundir.load_model(run / "model.keras")
    checkpoint = rundir.load_model(run / "checkpoint" / "last.keras")
    assert read_state(run)["epochs_completed"] == 1
    assert all(np.array_equal(a, b) for a, b in zip(good.get_weights(), checkpoint.get_weights()))
    assert not rundir.is_complete(run)

    assert train.main(["--resume", str(run)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert rundir.is_complete(run) and read_state(run)["epochs_completed"] == 2
    assert not list(run.rglob(".*.partial*"))
    assert predict.main(["--run", str(run), "the cat"]) == 0


def test_a_run_killed_while_finishing_is_finished_once_without_more_epochs(trained_run, tmp_path, capsys):
    # Killed after early stopping ended it but before it was marked complete: resuming
    # finishes it without training the epochs that early stopping had ruled out.
    run = tmp_path / "logs" / "early"
    shutil.copytree(trained_run, run)
    config = json.loads((run / "config.json").read_text())
    config["settings"]["epochs"] = 9
    config["settings_sha256"] = folder_files.json_sha256(config["settings"])  # written so, not edited
    (run / "config.json").write_text(json.dumps(config))
    state = read_state(run)
    state["settings"]["epochs"] = 9  # ...from the start
    rundir.write_json(run / "checkpoint" / "state.json", {**state, "stopped_early": True})
    rundir.write_json(run / "status.json", {"complete": False, "epochs_completed": state["epochs_completed"]})
    shutil.rmtree(run / engines.RUNTIME_DIR)  # killed before the ONNX model was written
    assert train.main(["--resume", str(run)]) == 0
    assert "Epoch " not in capsys.readouterr().out
    assert rundir.is_complete(run) and read_state(run)["epochs_completed"] == state["epochs_completed"]
    assert engines.engine_for(run) == "runtime"  # the resume that completed wrote it, its hash in status.json
    # The final scoring ran again, and TensorBoard shows its figures once.
    assert logged_steps(run / "test")["epoch_loss"] == [state["epochs_completed"] - 1]
    assert logged_steps(run / "projector")["embedding"] == [0]
    assert logged_steps(run / "train")["epoch_loss"] == list(range(state["epochs_completed"]))


def test_an_event_record_torn_by_the_kill_does_not_stop_a_resume(trained_run, tmp_path):
    # A kill can land while TensorBoard's writer is half way through a record.
    run = tmp_path / "logs" / "torn"
    shutil.copytree(trained_run, run)
    state = read_state(run)
    steps_per_epoch = state["global_step"] // state["epochs_completed"]
    state.update(epochs_completed=1, global_step=steps_per_epoch)  # killed during epoch 2
    rundir.write_json(run / "checkpoint" / "state.json", state)
    rundir.write_json(run / "status.json", {"complete": False, "epochs_completed": 1})
    (events,) = [path for path in (run / "train").glob("events.*") if b"batch_loss" in path.read_bytes()]
    events.write_bytes(events.read_bytes()[:-9])
    assert train.main(["--resume", str(run)]) == 0
    logged = logged_steps(run / "train")
    assert logged["epoch_loss"] == [0, 1]
    log_every = load_config(run / "config.json")[0].log_every
    assert logged["batch_loss"] == list(range(log_every, 2 * steps_per_epoch + 1, log_every))


def ctrl_c_at(epoch: int, batch: int):
    """A Keras callback that presses Ctrl-C after `batch` of `epoch` (both from 0)."""
    from word_predictor.backend import keras

    class CtrlC(keras.callbacks.Callback):
        def on_epoch_begin(self, current, logs=None):
            self.current = current

        def on_train_batch_end(self, current_batch, logs=None):
            if self.current == epoch and current_batch == batch:
                raise KeyboardInterrupt

    return CtrlC()


def test_a_resumed_run_lands_on_the_figures_of_the_uninterrupted_one(corpus_folder, tmp_path, capsys):
    """Dropout draws a new mask each step; a resume must draw the masks the uninterrupted run
    drew (as it reads the windows in the same order), whatever random state it starts with."""
    flags = ["--corpus", str(corpus_folder), "--logdir", str(tmp_path), "--units", "8", "--embedding-dim", "4",
             "--unknown-threshold", "1", "--epochs", "2", "--batch-size", "8", "--patience", "100",
             "--log-every", "0", "--dropout", "0.5"]  # fmt: skip
    assert train.main([*flags, "--run-name", "straight"]) == 0
    assert train.main([*flags, "--run-name", "resumed"], callbacks=[ctrl_c_at(epoch=1, batch=2)]) == 130
    import random

    random.seed(12345)  # a process that starts otherwise than the first did
    np.random.seed(54321)
    assert train.main(["--resume", str(tmp_path / "resumed")]) == 0
    capsys.readouterr()
    straight, resumed = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("straight", "resumed"))
    assert resumed["epochs_completed"] == straight["epochs_completed"] == 2
    assert resumed["best_validation_loss"] == pytest.approx(straight["best_validation_loss"], abs=1e-6)
    assert resumed["test"]["loss"] == pytest.approx(straight["test"]["loss"], abs=1e-6)
