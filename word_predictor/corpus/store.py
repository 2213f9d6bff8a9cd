"""The token store: a corpus's ids as one int32 file on disk, read back memory-mapped.

    LOGDIR/.cache/
      tokens-<key>.int32   the ids, little-endian int32, one per token, all files in order
      tokens-<key>.json    what they are: the key (files with sizes and modification times,
                           tokenizer, settings), token counts, the vocabulary, and the
                           length and CRC-32 of the .int32 file

A store is written under a temporary name (.tokens-<key>.<pid>.partial) and renamed
into place, the .json last, so a process killed at any moment leaves either the
previous store or none that a later run trusts: `open_store` checks the key, the
length and the checksum, and treats anything else as absent.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import zlib
from pathlib import Path

import numpy as np

from word_predictor import folder_files

STORE_FORMAT = "word_predictor.token_store/1"
DTYPE = np.dtype("<i4")
_BLOCK_TOKENS = 1 << 22  # 16 MiB of ids per read or write when remapping or checking


def store_name(key: dict) -> str:
    """A file stem for `key` (a JSON-able description of everything the ids depend on)."""
    text = json.dumps({"format": STORE_FORMAT, **key}, sort_keys=True)
    return "tokens-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def open_store(folder: Path, key: dict) -> tuple[np.memmap | np.ndarray, dict] | None:
    """The stored ids for `key` (read-only, memory-mapped) and their description, or
    None when there is no such store or it is damaged in any way."""
    name = store_name(key)
    data, meta_path = Path(folder) / f"{name}.int32", Path(folder) / f"{name}.json"
    try:
        checked = folder_files.read(meta_path, folder_files.StoreMeta)
        if checked.format != STORE_FORMAT or checked.key != key:
            return None
        length = checked.tokens
        if data.stat().st_size != length * DTYPE.itemsize:
            return None
        with open(data, "rb") as stream:
            if _checksum(stream.fileno(), length) != checked.crc32:
                return None
        return _map(data, length), checked.model_dump()
    except (OSError, ValueError):  # folder_files says ValueError for a file not of its schema
        return None


def _map(path_or_file, length: int) -> np.memmap | np.ndarray:
    if length == 0:
        return np.zeros(0, DTYPE)  # mmap cannot map an empty file
    return np.memmap(path_or_file, dtype=DTYPE, mode="r", shape=(length,))


class StoreWriter:
    """Ids appended in order, then remapped in place, checked and renamed into place.

    With `folder=None` the ids go to an anonymous temporary file that vanishes with
    the process (the corpus is not kept for later runs). Any OSError (a full disk)
    propagates after the partial file is removed.
    """

    def __init__(self, folder: Path | None, key: dict | None = None):
        self.folder, self.key = folder, key
        self.length = 0
        self.temporary = None
        if folder is not None:
            Path(folder).mkdir(parents=True, exist_ok=True)
            self._remove_stale_partials()
        # Where reading processes leave each piece's ids for `append_file`; removed
        # with the writer (a killed run's is removed by the next writer in `folder`).
        self.spill = Path(tempfile.mkdtemp(prefix=f".tokens-spill.{os.getpid()}.", suffix=".partial", dir=folder))
        try:
            if folder is None:
                self._file = tempfile.TemporaryFile(prefix="word_predictor-tokens-")
            else:
                self.temporary = Path(folder) / f".{store_name(key)}.{os.getpid()}.partial"
                self._file = open(self.temporary, "w+b")
        except OSError:
            self._remove_spill()
            raise

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is not None:
            self.discard()

    def append(self, ids: np.ndarray) -> None:
        self._file.write(np.ascontiguousarray(ids, dtype=DTYPE).data)
        self.length += len(ids)

    def append_file(self, path: Path, count: int) -> None:
        """Append the `count` ids held in the file at `path` (in `spill`), then remove it."""
        with open(path, "rb") as source:
            size = os.fstat(source.fileno()).st_size
            if size != count * DTYPE.itemsize:
                raise OSError(f"{path} holds {size} bytes, not {count} ids")
            shutil.copyfileobj(source, self._file, _BLOCK_TOKENS)
        os.unlink(path)
        self.length += count

    def read(self, start: int, count: int) -> np.ndarray:
        """Ids [start, start + count) as written so far."""
        self._file.flush()
        data = _read_exactly(self._file.fileno(), count * DTYPE.itemsize, start * DTYPE.itemsize)
        return np.frombuffer(data, DTYPE)

    def write(self, start: int, ids: np.ndarray) -> None:
        """Overwrite ids from `start` on."""
        self._file.flush()
        data = np.ascontiguousarray(ids, dtype=DTYPE).tobytes()
        _write_exactly(self._file.fileno(), data, start * DTYPE.itemsize)

    def finish(self, remap: np.ndarray | None = None, meta: dict | None = None) -> np.memmap | np.ndarray:
        """Apply `remap` (old id -> new id) in place, then make the store permanent
        (with `meta` beside it) and return the ids, memory-mapped read-only."""
        self._remove_spill()
        self._file.flush()
        fd = self._file.fileno()
        crc = 0
        if remap is not None or self.folder is not None:
            table = None if remap is None else np.asarray(remap, dtype=DTYPE)
            for start in range(0, self.length, _BLOCK_TOKENS):
                size = min(_BLOCK_TOKENS, self.length - start) * DTYPE.itemsize
                offset = start * DTYPE.itemsize
                block = _read_exactly(fd, size, offset)
                if table is not None:
                    block = table[np.frombuffer(block, DTYPE)].tobytes()
                    _write_exactly(fd, block, offset)
                crc = zlib.crc32(block, crc)
        if self.folder is None:
            return _map(self._file, self.length)
        os.fsync(fd)
        name = store_name(self.key)
        data, meta_path = Path(self.folder) / f"{name}.int32", Path(self.folder) / f"{name}.json"
        description = {
            "format": STORE_FORMAT,
            "key": self.key,
            **(meta or {}),
            "tokens": self.length,
            "crc32": crc,
        }
        meta_temporary = self.temporary.with_name(self.temporary.name.replace(".partial", ".json.partial"))
        self._file.close()
        # The ids first, then the description that vouches for them.
        with replaced(data, self.temporary):
            pass  # written and synced above
        with replaced(meta_path, meta_temporary), open(meta_temporary, "w", encoding="utf-8") as stream:
            stream.write(json.dumps(description))  # one shot: the C encoder
            stream.flush()
            os.fsync(stream.fileno())
        return _map(data, self.length)

    def discard(self) -> None:
        self._remove_spill()
        with contextlib.suppress(OSError):
            self._file.close()
        if self.temporary is not None:
            with contextlib.suppress(OSError):
                self.temporary.unlink()

    def _remove_spill(self) -> None:
        shutil.rmtree(self.spill, ignore_errors=True)

    def _remove_stale_partials(self) -> None:
        # Left by a killed process: .tokens-<key>.<pid>[.json].partial files and
        # .tokens-spill.<pid>.<random>.partial folders whose pid is gone.
        for path in Path(self.folder).glob(".tokens-*.partial"):
            with contextlib.suppress(ValueError, IndexError, OSError):
                pid = int(path.name.split(".")[2])
                if pid != os.getpid() and not _running(pid):
                    shutil.rmtree(path) if path.is_dir() else path.unlink()


class TokenLists:
    """Lists of tokens kept in a temporary file while a store is built: the distinct
    tokens of each piece of text, which its local ids in the store point into.

    Tokens never hold a NUL character (a corpus file with one is refused), so NUL
    separates them.
    """

    def __init__(self, folder: Path | None):
        self._file = tempfile.TemporaryFile(prefix="word_predictor-tokens-", dir=folder)
        self._spans: list[tuple[int, int, int]] = []  # (offset, bytes, tokens) of each list
        self._end = 0

    def append(self, tokens: list[str]) -> None:
        data = "\0".join(tokens).encode("utf-8")
        self._file.write(data)
        self._spans.append((self._end, len(data), len(tokens)))
        self._end += len(data)

    def __getitem__(self, number: int) -> list[str]:
        offset, size, count = self._spans[number]
        if count == 0:
            return []
        self._file.flush()
        return _read_exactly(self._file.fileno(), size, offset).decode("utf-8").split("\0")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _checksum(fd: int, length: int) -> int:
    crc = 0
    for start in range(0, length, _BLOCK_TOKENS):
        count = min(_BLOCK_TOKENS, length - start)
        crc = zlib.crc32(_read_exactly(fd, count * DTYPE.itemsize, start * DTYPE.itemsize), crc)
    return crc


def _read_exactly(fd: int, size: int, offset: int) -> bytes:
    data = os.pread(fd, size, offset)
    if len(data) != size:
        raise OSError(f"the token store ends early ({len(data)} of {size} bytes at {offset})")
    return data


def _write_exactly(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def fsync_folder(folder: Path) -> None:
    """Make a rename inside `folder` durable (the folder's entry list reaches the disk)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def replaced(path: Path, temporary: Path):
    """The one atomic write: write `temporary` in the body (and fsync it), then it is
    renamed over `path` in one step and the folder synced. A kill at any moment leaves
    the old `path` (at worst a stray temporary); a failure removes the temporary and
    raises on (an OSError for a full disk)."""
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise
    fsync_folder(Path(path).parent)
