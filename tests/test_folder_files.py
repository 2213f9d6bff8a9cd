"""word_predictor.folder_files, and the run folders it guards: a file edited by hand, cut short
or replaced is one line naming it, never a traceback or a model read another way; a resume
with changed settings is refused naming them; an export where one cannot write is one line."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import one_line
from word_predictor import evaluate, export, folder_files, predict, rundir, runs, train
from word_predictor.corpus import store
from word_predictor.errors import EXIT_FAILURE
from word_predictor.text.vocabulary import sha256_of
from word_predictor.training.checkpoint import read_state

# ---------------------------------------------------------------- the schemas alone


def test_the_json_hash_ignores_key_order_and_layout_but_not_values():
    assert folder_files.json_sha256({"a": 1, "b": [1, 2]}) == folder_files.json_sha256({"b": [1, 2], "a": 1})
    assert folder_files.json_sha256({"a": 1}) != folder_files.json_sha256({"a": 1.5})


@pytest.mark.parametrize(
    "schema, data, problem",
    [
        (folder_files.StatusFile, {"complete": True}, "says complete but records no model_sha256"),
        (folder_files.StatusFile, {"epochs_completed": "3"}, "epochs_completed: Input should be a valid integer"),
        (folder_files.CheckpointState, {}, "it lacks epochs_completed"),
        (folder_files.CheckpointState, {"epochs_completed": -1}, "greater than or equal to 0"),
        (folder_files.CheckpointState, {"epochs_completed": 1, "stopped_early": 1}, "valid boolean"),
        (folder_files.StoreMeta, {"format": "f", "key": {}, "tokens": "5", "crc32": 1}, "tokens: Input should be"),
        (folder_files.ConfigFile, {"format": "word_predictor.config/7", "settings": {}}, "'word_predictor.config/7' "
         "is not one this version reads"),
        (folder_files.ConfigFile, [], "not a JSON object but a list"),
    ],
)
def test_a_file_not_of_its_schema_is_a_value_error_saying_what_is_wrong(schema, data, problem):
    with pytest.raises(ValueError, match=problem):
        folder_files.parse(data, schema)


def test_a_token_store_description_of_the_wrong_types_is_no_store(tmp_path):
    key = {"files": ["a"]}
    with store.StoreWriter(tmp_path, key) as writer:
        writer.append(store.np.arange(10))
        writer.finish()
    assert store.open_store(tmp_path, key) is not None
    (meta,) = tmp_path.glob("tokens-*.json")
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "tokens": "10"}))
    assert store.open_store(tmp_path, key) is None


# ---------------------------------------------------------------- a run folder edited


@pytest.fixture
def interrupted(trained_run, tmp_path) -> Path:
    """The trained run as if killed after its first epoch (its checkpoint records the settings)."""
    run = Path(shutil.copytree(trained_run, tmp_path / "logs" / "cut"))
    state = read_state(run)
    state.update(epochs_completed=1, global_step=state["global_step"] // state["epochs_completed"])
    rundir.write_json(run / rundir.CHECKPOINT_DIR / rundir.CHECKPOINT_STATE, state)
    rundir.write_json(run / rundir.STATUS_FILE, {"complete": False, "started": 1.0, "epochs_completed": 1})
    (run / rundir.METRICS_FILE).unlink()
    return run


def edit_settings(run: Path, rehash: bool, **settings) -> None:
    """config.json with `settings` changed; with `rehash` its hash recomputed, as a careful editor would."""
    path = run / rundir.CONFIG_FILE
    data = json.loads(path.read_text())
    data["settings"].update(settings)
    if rehash:
        data["settings_sha256"] = folder_files.json_sha256(data["settings"])
    path.write_text(json.dumps(data))


@pytest.mark.slow
@pytest.mark.parametrize("rehash", [False, True], ids=["hash kept", "hash recomputed"])
@pytest.mark.parametrize("setting, value", [("units", 16), ("learning_rate", 0.1)])
def test_a_resume_with_a_changed_setting_is_refused_naming_it(interrupted, capsys, setting, value, rehash):
    before = json.loads((interrupted / rundir.CONFIG_FILE).read_text())["settings"][setting]
    edit_settings(interrupted, rehash, **{setting: value})
    assert train.main(["--resume", str(interrupted)]) == EXIT_FAILURE
    line = one_line(capsys.readouterr().err, "train")
    assert f"{setting} {before!r} -> {value!r}" in line and "config.json was changed" in line
    assert read_state(interrupted)["epochs_completed"] == 1  # nothing trained, nothing written


@pytest.mark.slow
def test_an_edited_config_is_refused_even_before_the_first_epoch_ended(interrupted, capsys):
    (interrupted / rundir.CHECKPOINT_DIR / rundir.CHECKPOINT_STATE).unlink()  # no settings recorded there
    edit_settings(interrupted, rehash=False, units=16)
    assert train.main(["--resume", str(interrupted)]) == EXIT_FAILURE
    assert "config.json: its settings were edited" in one_line(capsys.readouterr().err, "train")


@pytest.mark.slow
def test_a_truncated_checkpoint_state_is_one_line_naming_it(interrupted, capsys):
    path = interrupted / rundir.CHECKPOINT_DIR / rundir.CHECKPOINT_STATE
    path.write_text(path.read_text()[:20])
    assert train.main(["--resume", str(interrupted)]) == EXIT_FAILURE
    line = one_line(capsys.readouterr().err, "train")
    assert f"cannot read the resume checkpoint's state {path}: not JSON" in line
    assert runs.main(["--logdir", str(interrupted.parent)]) == 0  # still listed
    assert "incomplete" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_a_status_that_says_complete_does_not_make_an_interrupted_run_usable(interrupted, capsys, command):
    main = {"predict": predict.main, "evaluate": evaluate.main}[command]
    argv = ["--run", str(interrupted)] + (["the cat"] if command == "predict" else [])
    rundir.write_json(interrupted / rundir.STATUS_FILE, {"complete": True})
    assert main(argv) == EXIT_FAILURE
    assert "status.json: it says complete but records no model_sha256" in one_line(capsys.readouterr().err, command)
    # Even one forged with the kept model's hash: the files a finished training writes are missing.
    model_sha256 = sha256_of(interrupted / rundir.MODEL_FILE)
    rundir.write_json(interrupted / rundir.STATUS_FILE, {"complete": True, "finished": 2.0, "model_sha256": model_sha256})
    assert main(argv) == EXIT_FAILURE
    assert "metrics.json is missing, though status.json says" in one_line(capsys.readouterr().err, command)


@pytest.mark.slow
@pytest.mark.parametrize(
    "rehash, settings, problem",
    [
        (False, {"units": 16}, "its settings were edited after the run was written"),
        (True, {"window_size": "five"}, "settings.window_size: Input should be a valid integer"),
        (True, {"window_size": 0}, "window_size, bptt, embedding_dim, batch_size must each be at least 1"),
        (True, {"level": "char"}, "the vocabulary's level is 'word' where the settings say 'char'"),
    ],
)
def test_an_edited_config_of_a_complete_run_is_one_line_naming_it(trained_run, tmp_path, capsys, rehash,
                                                                  settings, problem):  # fmt: skip
    run = Path(shutil.copytree(trained_run, tmp_path / "logs" / "edited"))
    edit_settings(run, rehash, **settings)
    assert predict.main(["--run", str(run), "the cat"]) == EXIT_FAILURE
    line = one_line(capsys.readouterr().err, "predict")
    assert problem in line and str(run) in line


# ---------------------------------------------------------------- exporting where one cannot


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_export_into_proc_is_one_line(trained_run, capsys):
    pytest.importorskip("onnx")
    assert export.main(["--run", str(trained_run), "--out", "/proc/exported"]) == EXIT_FAILURE
    assert "cannot write /proc/exported" in one_line(capsys.readouterr().err, "export")


@pytest.mark.slow
def test_an_export_onto_a_read_only_file_system_is_one_line_and_leaves_nothing(trained_run, tmp_path, capsys,
                                                                               monkeypatch):  # fmt: skip
    pytest.importorskip("onnx")
    from word_predictor.exporter import folder

    def read_only(*args, **kwargs):  # the test runs as root, for whom a chmod is no bar
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(folder.tempfile, "mkdtemp", read_only)
    assert export.main(["--run", str(trained_run), "--out", str(tmp_path / "out")]) == EXIT_FAILURE
    line = one_line(capsys.readouterr().err, "export")
    assert "Read-only file system; nothing was written" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.slow
def test_an_export_goes_into_the_run_folder_by_default(trained_run, tmp_path, capsys):
    pytest.importorskip("onnx")
    run = Path(shutil.copytree(trained_run, tmp_path / "logs" / "run"))
    assert export.main(["--run", str(run)]) == 0
    assert (run / "export-onnx" / "manifest.json").is_file()
    assert f"to {run / 'export-onnx'}" in capsys.readouterr().out
