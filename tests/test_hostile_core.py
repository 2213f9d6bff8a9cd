"""Hostile inputs to training, the backend and the run folder: one line, the right exit
code, nothing lost (the cases that config, backend, rundir, training and train refuse)."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from word_predictor import evaluate, rundir, runs, train
from word_predictor.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE

REPO = Path(__file__).resolve().parents[1]
TEXT = (
    "the cat sat on the mat and the dog sat on the rug . "
    "some of them look like a cat and some of them look like a dog . "
)
TINY = ["--units", "8", "--embedding-dim", "4", "--epochs", "1", "--batch-size", "16", "--unknown-threshold", "1",
        "--log-every", "0", "--test-fraction", "0.2"]  # fmt: skip


def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT * 20, encoding="utf-8")
    return path


def one_line(text: str, command: str) -> str:
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("warning:")]
    assert len(lines) == 1, text
    assert lines[0].startswith(f"word_predictor.{command}: "), lines[0]
    assert "Traceback" not in text
    return lines[0]


def python(code: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"} | {"PYTHONPATH": str(REPO), **env}
    return subprocess.run([sys.executable, *code.split(), *args], env=environment, cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip


# ---------------------------------------------------------------- the backend


def test_a_bogus_keras_backend_is_one_line(tmp_path):
    done = python("-m word_predictor.train --corpus", str(corpus(tmp_path)), "--logdir", str(tmp_path / "logs"),
                  KERAS_BACKEND="theano")  # fmt: skip
    assert done.returncode == EXIT_FAILURE
    assert "unknown backend 'theano'" in one_line(done.stderr, "train")
    assert not (tmp_path / "logs").exists()


def test_a_backend_not_installed_is_one_line_naming_the_install_command(tmp_path):
    from word_predictor import backend

    missing = [name for name in backend.BACKENDS if name not in backend.installed()]
    if not missing:
        pytest.skip("every backend is installed in this environment, so none can be missing")
    done = python("-m word_predictor.train --corpus", str(corpus(tmp_path)), "--backend", missing[0])
    line = one_line(done.stderr, "train")
    assert done.returncode == EXIT_FAILURE and f"the {missing[0]} backend is not installed" in line
    assert backend.INSTALL[missing[0]] in line


def test_without_the_default_backend_an_installed_one_is_used_and_said(monkeypatch):
    from word_predictor import backend

    monkeypatch.setenv("KERAS_BACKEND", "unset below")  # so that select()'s own setting is undone after
    monkeypatch.delenv("KERAS_BACKEND")
    monkeypatch.setattr(backend, "_loaded_backend", lambda: None)  # as in a fresh process
    monkeypatch.setattr(backend, "installed", lambda: ["jax"])
    notes = []
    assert backend.select(None, on_note=notes.append) == "jax"
    assert notes == ["tensorflow is not installed, so the jax backend runs the model (pass --backend to choose)"]
    monkeypatch.setattr(backend, "installed", lambda: [])
    with pytest.raises(backend.BackendError, match="no Keras backend is installed; install one: pip install"):
        backend.select(None)


def test_runs_takes_backend_as_every_command_does(tmp_path, capsys):
    (tmp_path / "logs").mkdir()
    assert runs.main(["--logdir", str(tmp_path / "logs"), "--backend", "torch"]) == 0
    assert "no runs under" in capsys.readouterr().out


# ---------------------------------------------------------------- sizes


def test_a_model_too_big_for_memory_is_refused_before_anything_is_written(tmp_path, capsys):
    logs = tmp_path / "logs"
    code = train.main(["--corpus", str(corpus(tmp_path)), "--logdir", str(logs), "--units", "100000",
                       "--run-name", "huge"])  # fmt: skip
    line = one_line(capsys.readouterr().err, "train")
    assert code == EXIT_USAGE and "GiB of memory free here; lower --units" in line
    assert not (logs / "huge").exists()


def test_full_context_lanes_beyond_the_training_text_are_one_line(tmp_path, capsys):
    code = train.main(["--corpus", str(corpus(tmp_path)), "--logdir", str(tmp_path / "logs"), *TINY[:4],
                       "--context", "full", "--batch-size", "100000", "--run-name", "wide"])  # fmt: skip
    line = one_line(capsys.readouterr().err, "train")
    assert code == EXIT_USAGE and "--batch-size 100000" in line
    assert not (tmp_path / "logs" / "wide").exists()


# Ctrl-C while TensorFlow loads, after it logged what it logs at start-up (as it does on
# every machine without a GPU): the command's one line, none of the library's.
INTERRUPTED_IMPORT = """
import importlib.abc, os, sys
class Interrupting(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow.python":  # loading, not the check that it is installed
            os.write(2, b"I0000 cudart_stub.cc:31] Could not find cuda drivers on your machine\\n")
            raise KeyboardInterrupt
sys.meta_path.insert(0, Interrupting())
from word_predictor import {command}
sys.exit({command}.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("command", ["export", "evaluate"])
def test_ctrl_c_while_tensorflow_loads_prints_none_of_its_logs(trained, tmp_path, command):
    out = tmp_path / "exported"
    # evaluate would answer through the runtime, loading no TensorFlow at all: Keras is asked for
    argv = ["--run", str(trained), *(["--out", str(out)] if command == "export" else ["--engine", "keras"])]
    environment = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "WORD_PREDICTOR_TF_LOGS")}
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_IMPORT.format(command=command), *argv], cwd=REPO,
                          env={**environment, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300,
                          check=False)  # fmt: skip
    assert (done.returncode, done.stderr) == (EXIT_INTERRUPTED, f"word_predictor.{command}: interrupted\n")
    assert not out.exists()


# ---------------------------------------------------------------- lost or half-written state


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    from tests.helpers import tiny_run

    return tiny_run(tmp_path_factory, *TINY, name="my run", logdir="hostile_core", text=TEXT * 20)  # a space in its name


def test_the_closing_hint_quotes_the_run_for_the_shell(tmp_path, monkeypatch):
    trained = tmp_path / "logs" / "my run"
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert train._command("predict", "--run", trained, "a b") == shlex.join(
        ["python", "-m", "word_predictor.predict", "--run", str(trained), "a b", "--backend", "jax"])
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    assert "--backend" not in train._command("predict", "--run", trained)


@pytest.mark.slow
def test_a_truncated_split_file_is_one_line(trained, tmp_path, capsys):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(trained, run)
    data = (run / rundir.TEST_SPLIT_FILE).read_bytes()
    (run / rundir.TEST_SPLIT_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(run / rundir.TEST_SPLIT_FILE)  # the file really is cut short
    assert evaluate.main(["--run", str(run)]) == EXIT_FAILURE
    assert "cannot read the test split" in one_line(capsys.readouterr().err, "evaluate")


def test_run_names_with_a_newline_do_not_break_the_table(tmp_path):
    (tmp_path / "two\nlines\tand tab").mkdir()
    row = runs.describe(tmp_path / "two\nlines\tand tab")
    table = runs.format_table([row])
    assert len(table.splitlines()) == 2 and "two\\nlines\\tand tab" in table


@pytest.mark.slow
def test_the_hparams_and_runs_agree_on_settings_a_run_does_not_use(trained):
    from word_predictor.config import facts_from, load_config
    from word_predictor.monitoring.summaries import hparam_values

    config, data = load_config(trained / rundir.CONFIG_FILE)
    values = hparam_values(config, facts_from(data))
    described = runs.describe(trained)
    assert config.context == "window"
    assert described["bptt"] is None and values["bptt"] == 0  # neither shows the unused 35
    assert described["window_size"] == values["window_size"] == config.window_size
    assert described["vocabulary_size"] == values["vocabulary_size"] > 2


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["vocabulary", "config", "test split", "first epoch"])
def test_a_run_interrupted_in_any_phase_resumes_to_a_run_every_command_can_use(phase, tmp_path, capsys, monkeypatch):
    from word_predictor.backend import keras

    logs, run = tmp_path / "logs", tmp_path / "logs" / "cut"
    write_atomic = rundir.write_atomic

    def interrupt_at(name):
        def wrapped(path, *args, **kwargs):
            if Path(path).name == name:
                raise KeyboardInterrupt
            return write_atomic(path, *args, **kwargs)

        return wrapped

    class InterruptFirstEpoch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise KeyboardInterrupt

    flags = ["--corpus", str(corpus(tmp_path)), "--logdir", str(logs), *TINY, "--epochs", "2", "--run-name", "cut"]
    callbacks = []
    if phase == "first epoch":
        callbacks = [InterruptFirstEpoch()]
    elif phase == "test split":
        monkeypatch.setattr(rundir, "write_test_split", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    else:
        name = rundir.VOCABULARY_FILE if phase == "vocabulary" else rundir.CONFIG_FILE
        monkeypatch.setattr(rundir, "write_atomic", interrupt_at(name))
    assert train.main(flags, callbacks=callbacks) == EXIT_INTERRUPTED
    line = one_line(capsys.readouterr().err, "train")
    monkeypatch.undo()
    if phase in ("vocabulary", "config"):  # before the settings were in place: nothing to resume, nothing left
        assert "nothing was kept; run the same command again" in line and not run.exists()
        return
    assert f"continue from the last completed epoch with python -m word_predictor.train --resume {run}" in line
    assert train.main(["--resume", str(run)]) == 0
    assert rundir.is_complete(run)
    assert all((run / name).is_file() for name in rundir.COMPLETE_FILES)
    capsys.readouterr()
    assert evaluate.main(["--run", str(run)]) == 0


@pytest.mark.slow
def test_an_incomplete_run_begun_under_an_older_normalisation_resumes_with_it(tmp_path, capsys):
    """A run begun before normalisation version 2 (which drops format characters) is read
    again by version 1 when resumed, not refused as "the corpus changed"."""
    import json

    from word_predictor.backend import keras
    from word_predictor.config import load_config
    from word_predictor.text.vocabulary import Vocabulary, sha256_of
    from word_predictor.training.run_corpus import corpus_for

    class InterruptFirstEpoch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise KeyboardInterrupt

    text = corpus(tmp_path)
    text.write_text(text.read_text(encoding="utf-8") + "the dog walk\u200ded home . " * 20, encoding="utf-8")
    logs, run = tmp_path / "logs", tmp_path / "logs" / "old"
    flags = ["--corpus", str(text), "--logdir", str(logs), *TINY, "--run-name", "old", "--no-cache"]
    assert train.main(flags, callbacks=[InterruptFirstEpoch()]) == EXIT_INTERRUPTED
    # As version 1 of word_predictor left it: its vocabulary read by the version-1 rule.
    config, _ = load_config(run / rundir.CONFIG_FILE)
    old = corpus_for(config, normalisation_version=1).vocabulary
    assert "walk\u200ded" in old and "walked" not in old
    (run / rundir.VOCABULARY_FILE).write_text(old.to_json(), encoding="utf-8")
    settings = json.loads((run / rundir.CONFIG_FILE).read_text(encoding="utf-8"))
    settings["vocabulary_sha256"] = sha256_of(run / rundir.VOCABULARY_FILE)
    (run / rundir.CONFIG_FILE).write_text(json.dumps(settings), encoding="utf-8")
    (run / rundir.TEST_SPLIT_FILE).unlink()
    capsys.readouterr()

    assert train.main(["--resume", str(run), "--no-cache"]) == 0, capsys.readouterr().err
    resumed = Vocabulary.load(run / rundir.VOCABULARY_FILE)
    assert resumed == old and resumed.normalisation_version == 1
    assert rundir.is_complete(run)


def test_a_full_disk_at_the_first_write_leaves_no_run_folder(tmp_path, capsys, monkeypatch):
    def full(path, *args, **kwargs):
        raise rundir.RunError(f"cannot write {path}: No space left on device")

    monkeypatch.setattr(rundir, "write_status", full)
    logs = tmp_path / "logs"
    flags = ["--corpus", str(corpus(tmp_path)), "--logdir", str(logs), *TINY, "--run-name", "full"]
    assert train.main(flags) == EXIT_FAILURE
    assert "No space left on device" in one_line(capsys.readouterr().err, "train")
    assert not (logs / "full").exists()  # so the same command can simply run again
    monkeypatch.undo()


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_training_as_ctrl_c_does(stop, tmp_path):
    logs = tmp_path / "logs"
    script = (
        "import os, signal, sys; from word_predictor import train; from word_predictor.backend import keras\n"
        "class Stop(keras.callbacks.Callback):\n"
        "    def on_train_batch_end(self, batch, logs=None):\n"
        f"        os.kill(os.getpid(), {int(stop)})\n"
        "sys.exit(train.main(sys.argv[1:], callbacks=[Stop()]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "--corpus", str(corpus(tmp_path)), "--logdir", str(logs), *TINY,
         "--run-name", "stopped"], env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == EXIT_INTERRUPTED, done.stderr[-2000:]
    line = one_line(done.stderr, "train")
    assert f"--resume {logs / 'stopped'}" in line
    assert (logs / "stopped" / rundir.CONFIG_FILE).is_file() and not rundir.is_complete(logs / "stopped")


def test_tensorflows_retracing_warning_is_dropped_and_its_other_messages_kept():
    import logging

    from word_predictor.backend import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the warning is TensorFlow's; this suite runs on another backend")
    import tensorflow as tf

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("tensorflow", logging.WARNING, __file__, 1, message, None, None)

    retracing = "5 out of the last 51 calls to <function one_step_on_data> triggered tf.function retracing. Tracing"
    assert not tf.get_logger().filter(record(retracing))
    assert tf.get_logger().filter(record("a checkpoint could not be restored"))


@pytest.mark.slow
def test_an_allocation_failure_while_training_is_one_line_and_leaves_nothing_half_written(tmp_path, capsys):
    from word_predictor.backend import keras

    class Exhausted(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            raise MemoryError

    logs = tmp_path / "logs"
    flags = ["--corpus", str(corpus(tmp_path)), "--logdir", str(logs), *TINY, "--run-name", "oom"]
    assert train.main(flags, callbacks=[Exhausted()]) == EXIT_FAILURE
    line = one_line(capsys.readouterr().err, "train")
    assert "ran out of memory while training (MemoryError)" in line and "lower --batch-size, --units" in line
    assert not rundir.is_complete(logs / "oom") and not list((logs / "oom").rglob("*.partial*"))
