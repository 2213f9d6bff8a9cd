"""The run folder: incomplete, damaged or foreign runs refused, nothing unsafe loaded, and
writes that keep the old file when they fail.

Each one must end in one clear line and the documented exit code (0 success,
1 runtime failure, 2 usage error), never a traceback, and must not lose a good
model. docs/reliability.md lists them with what happened.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.helpers import REPO, TINY_TEXT, copy_run, one_line, set_status, train_flags, write_corpus
from word_predictor import evaluate, folder_files, predict, rundir, train
from word_predictor.training.checkpoint import read_state
from word_predictor.config import Config, CorpusFacts, config_json, facts_from, load_config
from word_predictor.model.factory import build_model
from word_predictor.text.vocabulary import sha256_of
from word_predictor.corpus.splits import Split


# ---------------------------------------------------------------- incomplete runs


@pytest.mark.slow
@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_an_incomplete_run_is_refused_by_name(trained_run, tmp_path, capsys, command):
    run = copy_run(trained_run, tmp_path)
    set_status(run, complete=False)
    argv = ["--run", str(run)] + (["the cat"] if command == "predict" else [])
    assert {"predict": predict, "evaluate": evaluate}[command].main(argv) == 1
    line = one_line(capsys.readouterr().err, command)
    assert f"run {run} is incomplete" in line and f"--resume {run}" in line


@pytest.mark.slow
def test_the_newest_run_incomplete_is_skipped_with_a_note(trained_run, tmp_path, capsys):
    older = copy_run(trained_run, tmp_path, "older")
    newer = copy_run(trained_run, tmp_path, "newer")
    set_status(older, started=time.time() - 60)
    set_status(newer, complete=False, started=time.time())
    assert predict.main(["--logdir", str(tmp_path / "logs"), "the cat"]) == 0
    logdir = tmp_path / "logs"
    assert capsys.readouterr().err == (
        f"using run {older} (newest complete run under {logdir}; skipping newer incomplete run(s) newer)\n"
    )
    shutil.rmtree(older)
    assert evaluate.main(["--logdir", str(tmp_path / "logs")]) == 1
    line = one_line(capsys.readouterr().err, "evaluate")
    assert "no complete run" in line and f"--resume {newer}" in line


@pytest.mark.slow
def test_a_run_with_a_missing_file_is_refused(trained_run, tmp_path, capsys):
    run = copy_run(trained_run, tmp_path)
    (run / "model.keras").unlink()
    assert predict.main(["--run", str(run), "the cat"]) == 1
    assert "model.keras is missing" in one_line(capsys.readouterr().err, "predict")


# ---------------------------------------------------------------- integrity


@pytest.mark.slow
def test_a_tampered_vocabulary_is_refused(trained_run, tmp_path, capsys):
    run = copy_run(trained_run, tmp_path)
    data = json.loads((run / "vocabulary.json").read_text())
    data["tokens"][1], data["tokens"][2] = data["tokens"][2], data["tokens"][1]  # same size, ids swapped
    (run / "vocabulary.json").write_text(json.dumps(data))
    for command, argv in ((predict, ["the cat"]), (evaluate, [])):
        assert command.main(["--run", str(run), *argv]) == 1
        line = one_line(capsys.readouterr().err, command.__name__.split(".")[-1])
        assert "vocabulary.json does not match the one this run was trained with" in line


@pytest.mark.slow
def test_a_vocabulary_from_another_run_is_refused_even_with_its_hash(trained_run, tmp_path, capsys):
    # Someone copies another run's vocabulary and config hash over: the model's output size gives it away.
    run = copy_run(trained_run, tmp_path)
    data = json.loads((run / "vocabulary.json").read_text())
    data["tokens"].append("zebra")
    data["counts"].append(9)
    data["size"] += 1
    (run / "vocabulary.json").write_text(json.dumps(data))
    config = json.loads((run / "config.json").read_text())
    config["vocabulary_sha256"] = sha256_of(run / "vocabulary.json")
    (run / "config.json").write_text(json.dumps(config))
    assert predict.main(["--run", str(run), "the cat"]) == 1
    line = one_line(capsys.readouterr().err, "predict")
    assert f"predicts {data['size'] - 1} tokens but the vocabulary has {data['size']}" in line


@pytest.mark.slow
def test_a_model_from_another_run_is_refused(trained_run, tmp_path, capsys):
    run = copy_run(trained_run, tmp_path)
    config, data = load_config(run / "config.json")
    size = facts_from(data).vocabulary_size
    rundir.save_model_atomic(build_model(config, CorpusFacts(vocabulary_size=size + 3)), run / "model.keras")
    assert predict.main(["--run", str(run), "the cat"]) == 1
    assert "is not the model this run finished with" in one_line(capsys.readouterr().err, "predict")
    # ...and with the status hash forged to match, by its output size (Keras' loader: the runtime
    # answers from runtime/, which the forged model.keras does not touch).
    set_status(run, model_sha256=sha256_of(run / "model.keras"))
    assert predict.main(["--run", str(run), "--engine", "keras", "the cat"]) == 1
    line = one_line(capsys.readouterr().err, "predict")
    assert (
        f"predicts {size + 3} tokens but the vocabulary has {size}" in line
    )


@pytest.mark.slow
def test_a_cut_short_model_file_is_refused(trained_run, tmp_path, capsys):
    run = copy_run(trained_run, tmp_path)
    data = (run / "model.keras").read_bytes()
    (run / "model.keras").write_bytes(data[: len(data) // 2])
    set_status(run, model_sha256=sha256_of(run / "model.keras"))
    assert predict.main(["--run", str(run), "--engine", "keras", "the cat"]) == 1  # the runtime reads no .keras
    assert "not a whole .keras file" in one_line(capsys.readouterr().err, "predict")


# ---------------------------------------------------------------- safe loading


def _lambda_model(vocabulary_size: int, marker: Path) -> keras.Model:
    # The lambda touches `marker` whenever it runs: if loading ever ran it, we would know.
    code = f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]"
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(vocabulary_size, 4)(tokens)
    x = keras.layers.Lambda(eval(code), name="payload")(x)
    logits = keras.layers.Dense(vocabulary_size, name="next_word")(x)
    return keras.Model(tokens, logits)


@pytest.mark.slow
def test_a_model_carrying_a_lambda_layer_is_refused(trained_run, tmp_path, capsys):
    run = copy_run(trained_run, tmp_path)
    marker = tmp_path / "code-ran"
    _, data = load_config(run / "config.json")
    _lambda_model(facts_from(data).vocabulary_size, marker).save(run / "model.keras")
    marker.unlink(missing_ok=True)  # building the model ran it once, here
    set_status(run, model_sha256=sha256_of(run / "model.keras"))  # a forger who rewrote the status too
    for command, argv in ((predict, ["the cat"]), (evaluate, [])):  # Keras' loader: the runtime reads no .keras
        assert command.main(["--run", str(run), "--engine", "keras", *argv]) == 1
        line = one_line(capsys.readouterr().err, command.__name__.split(".")[-1])
        assert "refusing to load" in line and "carries Python code (a Lambda layer)" in line
    assert not marker.exists()


def test_no_pickle_and_no_unsafe_loading_in_the_package():
    found = subprocess.run(
        ["git", "grep", "-n", "--untracked", "-i", "-e", "pickle", "-e", "safe_mode", "-e", "unsafe",
         "--", "word_predictor"],
        capture_output=True, text=True, cwd=REPO, check=False,
    ).stdout.splitlines()  # fmt: skip
    for line in found:
        # The only mentions allowed: numpy told never to unpickle, and Keras' safe mode kept on.
        assert (
            "allow_pickle=False" in line
            or "safe_mode=True" in line
            or 'safe_mode" in' in line
            or (line.split(":", 2)[2].lstrip().startswith(("#", '"""', "Load a .keras")))
        ), line
    assert any("safe_mode=True" in line for line in found)
    forbidden = ("import " + "pickle", "allow_pickle=True", "safe_mode=False")  # split so no grep flags this file
    assert not any(word in line for word in forbidden for line in found)


# ---------------------------------------------------------------- atomic writes


def fill_the_disk_on_save(monkeypatch, on_call: int = 1) -> list[str]:
    """keras.Model.save that, on its `on_call`-th call, writes half its file and fails as on a full disk."""
    real_save = keras.Model.save
    calls: list[str] = []

    def save(model, path, *args, **kwargs):
        calls.append(Path(path).name)
        real_save(model, path, *args, **kwargs)
        if len(calls) == on_call:
            data = Path(path).read_bytes()
            Path(path).write_bytes(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(keras.Model, "save", save)
    return calls


def test_a_failed_save_keeps_the_old_model(tmp_path, monkeypatch):
    from word_predictor.config import Config

    config = Config(units=8, embedding_dim=4)
    old = build_model(config, CorpusFacts(vocabulary_size=7))
    path = tmp_path / "model.keras"
    rundir.save_model_atomic(old, path)
    before = path.read_bytes()
    fill_the_disk_on_save(monkeypatch)
    with pytest.raises(rundir.RunError, match="No space left on device; its previous version is kept"):
        rundir.save_model_atomic(build_model(config, CorpusFacts(vocabulary_size=7)), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]  # the half file is gone
    loaded = rundir.load_model(path)
    assert all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), old.get_weights()))


def test_a_failed_json_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "status.json"
    rundir.write_json(path, {"complete": True})

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(rundir.os, "fsync", no_space)
    with pytest.raises(rundir.RunError, match="cannot write .*status.json: No space left on device"):
        rundir.write_json(path, {"complete": False})
    assert folder_files.read_json(path) == {"complete": True}
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


@pytest.mark.slow
def test_a_full_disk_during_training_costs_no_work(tmp_path, capsys, monkeypatch):
    folder = write_corpus(tmp_path, {"a.txt": TINY_TEXT * 20})
    logdir = tmp_path / "logs"
    real_save = keras.Model.save
    # Saves: epoch 1's model.keras and last.keras, then epoch 2's model.keras, half way through which the disk fills.
    calls = fill_the_disk_on_save(monkeypatch, on_call=3)
    assert train.main(train_flags(folder, logdir, "--run-name", "full")) == 1
    run = logdir / "full"
    line = one_line(capsys.readouterr().err, "train")
    assert (
        f"cannot write {run / 'model.keras'}: No space left on device; its previous version is kept" in line
    )
    assert not rundir.is_complete(run)
    assert read_state(run)["epochs_completed"] == 1
    rundir.load_model(run / "model.keras")  # epoch 1's model, whole
    assert calls[2] == ".model.partial.keras"
    assert not list(run.rglob("*.partial*"))
    # Space freed: the run continues where it stopped and completes.
    monkeypatch.setattr(keras.Model, "save", real_save)
    assert train.main(["--resume", str(run)]) == 0
    assert rundir.is_complete(run) and read_state(run)["epochs_completed"] == 2
    capsys.readouterr()
    assert predict.main(["--run", str(run), "the cat"]) == 0


# ---------------------------------------------------------------- one trainer per run


def test_a_second_training_with_the_same_run_name_is_refused(tmp_path, capsys):
    folder = write_corpus(tmp_path, {"a.txt": TINY_TEXT * 5})
    logdir = tmp_path / "logs"
    busy = logdir / "shared"
    busy.mkdir(parents=True)
    (busy / "status.json").write_text('{"complete": false}')
    before = {p.name: p.stat().st_mtime_ns for p in busy.iterdir()}
    assert train.main(train_flags(folder, logdir, "--run-name", "shared")) == 1
    line = one_line(capsys.readouterr().err, "train")
    assert f"run folder {busy} already exists; choose another --run-name" in line
    assert {p.name: p.stat().st_mtime_ns for p in busy.iterdir()} == before


@pytest.mark.slow
def test_a_run_whose_lock_is_held_is_not_resumed(trained_run, tmp_path, capsys):
    run = copy_run(trained_run, tmp_path)
    set_status(run, complete=False)
    fd = os.open(run / rundir.LOCK_FILE, os.O_CREAT | os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another trainer at work
        assert train.main(["--resume", str(run)]) == 1
    finally:
        os.close(fd)
    line = one_line(capsys.readouterr().err, "train")
    assert f"run {run} is being trained by another process" in line


# ---------------------------------------------------------------- the library's own rules, without a training


def test_write_atomic_writes_text_and_bytes_whole(tmp_path):
    rundir.write_atomic(tmp_path / "a.txt", "café\n")
    rundir.write_atomic(tmp_path / "b.bin", b"\x00\xff")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "café\n"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_a_write_killed_before_its_rename_leaves_the_old_content(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    rundir.write_atomic(path, "old")

    def killed(source, target):
        raise KeyboardInterrupt  # stands for the SIGKILL that lands between write and rename

    monkeypatch.setattr(rundir.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        rundir.write_atomic(path, "new, and much longer than the old")
    assert path.read_text() == "old"
    # At most a stray under a hidden temporary name is left, which nothing reads.
    strays = [p.name for p in tmp_path.iterdir() if p.name != "config.json"]
    assert all(name.startswith(".config.json") and name.endswith(".partial") for name in strays), strays


def test_a_second_holder_of_the_lock_is_refused_until_the_first_lets_go(tmp_path):
    with rundir.locked(tmp_path):
        with pytest.raises(rundir.RunError, match="being trained by another process"):
            with rundir.locked(tmp_path):
                pass
    with rundir.locked(tmp_path):  # released: free again
        pass


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\\b"])
def test_a_run_name_that_is_not_a_plain_folder_name_is_refused(tmp_path, name):
    with pytest.raises(rundir.RunError, match="not a plain folder name"):
        rundir.create_run_dir(tmp_path, name)
    assert list(tmp_path.iterdir()) == []


def test_the_newest_complete_run_is_picked_and_newer_incomplete_ones_named(tmp_path):
    for name, started, complete in [("old", 1.0, True), ("done", 2.0, True), ("newer", 3.0, False), ("newest", 4.0, False)]:
        (tmp_path / name).mkdir()
        finished = {"finished": started, "model_sha256": "0" * 64} if complete else {}  # as a finished training writes
        rundir.write_json(tmp_path / name / rundir.STATUS_FILE, {"started": started, "complete": complete, **finished})
    notes = []
    assert rundir.newest_complete_run(tmp_path, notes.append) == tmp_path / "done"
    assert [run.name for run in rundir.list_runs(tmp_path)] == ["newest", "newer", "done", "old"]
    assert len(notes) == 1 and "skipping newer incomplete run(s) newest, newer" in notes[0]


def unfinished_run(tmp_path, **status) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    (run / rundir.CONFIG_FILE).write_text("{}")
    rundir.write_json(run / rundir.STATUS_FILE, status)
    return run


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda tmp_path: tmp_path / "nowhere", "does not exist"),
        (lambda tmp_path: tmp_path / "file", "is a file, not a run folder"),
        (lambda tmp_path: tmp_path, "not a word_predictor run folder"),
        (lambda tmp_path: unfinished_run(tmp_path, complete=False), "is incomplete"),
        (lambda tmp_path: unfinished_run(tmp_path, complete=False, stopped="non-finite loss"),
         r"stopped \(non-finite loss\) before its first epoch ended"),
    ],
    ids=["missing", "a file", "no config", "incomplete", "stopped in its first epoch"],
)
def test_load_run_says_what_is_not_a_run_it_can_load(tmp_path, make, message):
    (tmp_path / "file").write_text("")
    with pytest.raises(rundir.RunError, match=message):
        rundir.load_run(make(tmp_path))


@pytest.mark.parametrize(
    "make, library, command",
    [
        (lambda tmp_path: tmp_path / "nowhere", "pass run logs/RUN", "pass --run logs/RUN"),
        (lambda tmp_path: tmp_path / "file", "pass run logs/RUN", "pass --run logs/RUN"),
        (lambda tmp_path: unfinished_run(tmp_path, complete=False), "finish it with resume ",
         "finish it with python -m word_predictor.train --resume "),
        (lambda tmp_path: unfinished_run(tmp_path, complete=False, stopped="non-finite loss"),
         "with a lower learning_rate", "with a lower --learning-rate"),
    ],
    ids=["missing", "a file", "incomplete", "stopped in its first epoch"],
)
def test_run_folder_errors_name_settings_and_the_commands_name_their_flags(tmp_path, capsys, make, library, command):
    """The library speaks of settings; predict (like every command that reads a run) says its flags."""
    (tmp_path / "file").write_text("")
    run = make(tmp_path)
    with pytest.raises(rundir.RunError) as raised:
        rundir.load_run(run)
    assert library in str(raised.value) and "--" not in str(raised.value)
    assert predict.main(["--run", str(run), "the"]) == 1
    assert command in one_line(capsys.readouterr().err, "predict")


def test_a_run_without_a_test_split_is_told_to_pass_a_text(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    np.savez(run / rundir.TEST_SPLIT_FILE, ids=np.zeros(0, np.int32), segment_lengths=np.zeros(0, np.int64))
    with pytest.raises(rundir.RunError, match=r"kept no test split \(test_fraction 0\); pass text FILE"):
        rundir.read_test_split(run)


def test_load_run_checks_the_vocabulary_hash_before_reading_it(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / rundir.VOCABULARY_FILE).write_text("not even JSON")
    (run / rundir.CONFIG_FILE).write_text(config_json(Config(), CorpusFacts(), vocabulary_sha256="0" * 64))
    for name in (rundir.MODEL_FILE, rundir.METRICS_FILE, rundir.TEST_SPLIT_FILE):
        (run / name).write_text("")
    rundir.write_json(run / rundir.STATUS_FILE, {"complete": True, "finished": 1.0, "model_sha256": "0" * 64})
    with pytest.raises(rundir.RunError, match="does not match the one this run was trained with"):
        rundir.load_run(run)


# ---------------------------------------------------------------- the one atomic write, the checked reader, what complete promises


def test_an_atomic_write_replaces_whole_and_a_failed_one_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "settings.json"
    rundir.write_json(path, {"a": 1})
    assert folder_files.read_json(path) == {"a": 1}

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", full_disk)
    with pytest.raises(rundir.RunError) as refused:
        rundir.write_json(path, {"a": 2})
    assert folder_files.read_json(path) == {"a": 1} and sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]
    assert "No space left on device; its previous version is kept" in str(refused.value)
    assert "(--resume RUN continues" in refused.value.phrased(train.FLAGS)


@pytest.mark.parametrize("damage", ["missing", "truncated", "not a zip", "empty"])
def test_the_test_split_is_read_through_the_checked_loader(tmp_path, damage):
    rundir.write_test_split(tmp_path, Split.from_lengths(np.arange(10, dtype=np.int32), [4, 6]))
    assert rundir.read_test_split(tmp_path).segment_lengths.tolist() == [4, 6]
    path = tmp_path / rundir.TEST_SPLIT_FILE
    data = path.read_bytes()
    {"missing": lambda: path.unlink(), "truncated": lambda: path.write_bytes(data[: len(data) // 2]),
     "not a zip": lambda: path.write_text("hello"), "empty": lambda: path.write_bytes(b"")}[damage]()  # fmt: skip
    with pytest.raises(rundir.RunError, match="cannot read the test split .*test_split.npz") as refused:
        rundir.read_test_split(tmp_path)
    assert "\n" not in str(refused.value)


def test_a_run_lacking_a_file_a_command_needs_is_never_marked_complete(tmp_path):
    for name in rundir.COMPLETE_FILES:
        (tmp_path / name).write_text("{}")
    (tmp_path / rundir.TEST_SPLIT_FILE).unlink()
    with pytest.raises(rundir.RunError, match=f"lacks {rundir.TEST_SPLIT_FILE}"):
        rundir.mark_complete(tmp_path)
    assert not rundir.is_complete(tmp_path)
    rundir.write_test_split(tmp_path, Split.from_lengths(np.arange(3, dtype=np.int32), [3]))
    rundir.mark_complete(tmp_path)
    assert rundir.is_complete(tmp_path)


def test_a_changed_vocabulary_is_refused_by_the_one_hash_check(tmp_path):
    (tmp_path / rundir.VOCABULARY_FILE).write_text(json.dumps({"tokens": ["<unk>", "a"]}))
    from word_predictor.text.vocabulary import sha256_of

    provenance = {"vocabulary_sha256": sha256_of(tmp_path / rundir.VOCABULARY_FILE)}
    rundir.check_vocabulary_file(tmp_path, provenance)
    (tmp_path / rundir.VOCABULARY_FILE).write_text(json.dumps({"tokens": ["<unk>", "b"]}))
    with pytest.raises(rundir.RunError, match="does not match the one this run was trained with"):
        rundir.check_vocabulary_file(tmp_path, provenance)


def test_run_folder_refusals_name_settings_that_train_names_as_flags(tmp_path):
    with pytest.raises(rundir.RunSettingError) as refused:
        rundir.create_run_dir(tmp_path, "a/b")
    assert str(refused.value) == "run_name 'a/b' is not a plain folder name"
    assert refused.value.phrased(train.FLAGS) == "--run-name 'a/b' is not a plain folder name"
    (tmp_path / "taken").mkdir()
    with pytest.raises(rundir.RunSettingError) as refused:
        rundir.create_run_dir(tmp_path, "taken")
    assert refused.value.phrased(train.FLAGS).endswith(f"choose another --run-name, or continue it with --resume "
                                                       f"{tmp_path / 'taken'}")  # fmt: skip
