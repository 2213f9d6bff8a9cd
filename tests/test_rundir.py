"""rundir.py: the one atomic write, the one checked reader, and what `complete` promises."""

from __future__ import annotations

import json

import numpy as np
import pytest

from word_predictor import rundir, train
from word_predictor.corpus.splits import Split


def test_an_atomic_write_replaces_whole_and_a_failed_one_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "settings.json"
    rundir.write_json(path, {"a": 1})
    assert rundir.read_json(path) == {"a": 1}

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", full_disk)
    with pytest.raises(rundir.RunError) as refused:
        rundir.write_json(path, {"a": 2})
    assert rundir.read_json(path) == {"a": 1} and sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]
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
