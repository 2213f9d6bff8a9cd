import json
import os
import subprocess
import sys

import numpy as np
import pytest

from word_predictor.corpus import store

KEY = {"files": [["/corpus/a.txt", 10, 1]], "level": "word"}


def build(folder, ids, remap=None, meta=None, key=KEY):
    with store.StoreWriter(folder, key) as writer:
        for part in ids:
            writer.append(np.asarray(part, np.int32))
        return writer.finish(remap, meta or {"note": "test"})


def test_written_ids_come_back_memory_mapped_and_remapped(tmp_path):
    ids = build(tmp_path, [[0, 1, 2], [2, 1]], remap=np.array([7, 8, 9]))
    assert isinstance(ids, np.memmap) and ids.dtype == np.int32 and not ids.flags.writeable
    assert ids.tolist() == [7, 8, 9, 9, 8]
    found, meta = store.open_store(tmp_path, KEY)
    assert found.tolist() == [7, 8, 9, 9, 8]
    assert meta["note"] == "test" and meta["tokens"] == 5 and meta["key"] == KEY
    name = store.store_name(KEY)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.int32", f"{name}.json"]


def test_read_and_write_in_place_before_finishing(tmp_path):
    with store.StoreWriter(tmp_path, KEY) as writer:
        writer.append(np.arange(10, dtype=np.int32))
        assert writer.read(3, 4).tolist() == [3, 4, 5, 6]
        writer.write(3, np.array([30, 40], np.int32))
        ids = writer.finish()
    assert ids.tolist() == [0, 1, 2, 30, 40, 5, 6, 7, 8, 9]


def test_an_anonymous_store_leaves_no_file(tmp_path):
    with store.StoreWriter(None) as writer:
        writer.append(np.array([1, 2, 3], np.int32))
        ids = writer.finish(np.array([0, 5, 6, 7]))
    assert ids.tolist() == [5, 6, 7]
    empty = store.StoreWriter(None).finish()
    assert empty.tolist() == [] and empty.dtype == np.int32


def test_another_key_or_any_damage_means_no_store(tmp_path):
    build(tmp_path, [[1, 2, 3]])
    assert store.open_store(tmp_path, {**KEY, "level": "char"}) is None
    name = store.store_name(KEY)
    meta = json.loads((tmp_path / f"{name}.json").read_text())
    (tmp_path / f"{name}.json").write_text(json.dumps({**meta, "crc32": meta["crc32"] ^ 1}))
    assert store.open_store(tmp_path, KEY) is None
    (tmp_path / f"{name}.json").write_text("[]")
    assert store.open_store(tmp_path, KEY) is None
    (tmp_path / f"{name}.json").unlink()
    assert store.open_store(tmp_path, KEY) is None
    assert store.open_store(tmp_path / "nowhere", KEY) is None


def test_an_error_while_writing_removes_the_partial_file(tmp_path):
    with pytest.raises(RuntimeError):
        with store.StoreWriter(tmp_path, KEY) as writer:
            writer.append(np.array([1, 2], np.int32))
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_partial_files_of_dead_processes_are_removed(tmp_path):
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    dead_pid = int(ended.stdout)
    stale = tmp_path / f".{store.store_name(KEY)}.{dead_pid}.partial"
    stale_meta = tmp_path / f".{store.store_name(KEY)}.{dead_pid}.json.partial"
    alive = tmp_path / f".{store.store_name(KEY)}.{os.getppid()}.partial"
    for path in (stale, stale_meta, alive):
        path.write_bytes(b"half")
    stale_spill = tmp_path / f".tokens-spill.{dead_pid}.x1y2.partial"
    (stale_spill / "sub").mkdir(parents=True)
    (stale_spill / "0-0.int32").write_bytes(b"ids!")
    alive_spill = tmp_path / f".tokens-spill.{os.getppid()}.z3.partial"
    alive_spill.mkdir()
    build(tmp_path, [[1]])
    assert not stale.exists() and not stale_meta.exists() and not stale_spill.exists()
    assert alive.exists() and alive_spill.exists()  # another live process may be writing them


def test_append_file_moves_a_spilled_piece_into_the_store(tmp_path):
    with store.StoreWriter(tmp_path, KEY) as writer:
        assert writer.spill.is_dir() and writer.spill.parent == tmp_path
        writer.append(np.array([7], np.int32))
        piece = writer.spill / "0-0.int32"
        piece.write_bytes(np.array([1, 2, 3], "<i4").tobytes())
        writer.append_file(piece, 3)
        assert not piece.exists()
        short = writer.spill / "0-1.int32"
        short.write_bytes(np.array([1], "<i4").tobytes())
        with pytest.raises(OSError, match="holds 4 bytes, not 2 ids"):
            writer.append_file(short, 2)
        ids = writer.finish()
    assert ids.tolist() == [7, 1, 2, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{store.store_name(KEY)}.int32",
                                                          f"{store.store_name(KEY)}.json"]  # fmt: skip


def test_token_lists_round_trip(tmp_path):
    lists = store.TokenLists(tmp_path)
    lists.append(["the", "café", "\n", " "])
    lists.append([])
    lists.append(["don't"])
    assert lists[0] == ["the", "café", "\n", " "] and lists[1] == [] and lists[2] == ["don't"]
    assert list(tmp_path.iterdir()) == []  # an anonymous temporary file
