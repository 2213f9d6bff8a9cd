"""Finding the .txt files of a corpus and reading them as tokens, a block at a time,
and cutting them into pieces that tokenise on their own."""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from word_predictor.config import SettingError
from word_predictor.errors import UserError
from word_predictor.text.tokenizer import Tokenizer

ENCODING_ERRORS = ("strict", "replace", "skip")
READ_SIZE = 1 << 20  # bytes per read
# A run of text with no line break or space this long is cut, so one giant line can't hold memory.
_MAX_CARRY_CHARS = 1 << 20

# 'replace' turns each invalid byte sequence into a word break; 'skip' drops it.
codecs.register_error("word_predictor_space", lambda error: (" ", error.end))
DECODE_ERRORS = {"strict": "strict", "replace": "word_predictor_space", "skip": "ignore"}


class CorpusError(UserError):
    pass


class CorpusSettingError(CorpusError, SettingError):
    """A corpus that cannot be read as a setting says, naming the setting ({field}) as a
    SettingError does; one line with exit code 1 whether or not a command renames it."""


def find_text_files(paths: Sequence[str | os.PathLike], setting: str = "corpus") -> list[Path]:
    """Every *.txt below each path (a file is taken as given), sorted, each once.

    `setting` is the setting the paths came from, named in the error messages.
    """
    found: dict[str, Path] = {}
    for root in map(Path, paths):
        if root.is_file():
            found.setdefault(os.path.realpath(root), root)
        elif root.is_dir():
            for path in _walk_txt(root):
                found.setdefault(os.path.realpath(path), path)
        elif root.exists():  # a FIFO, a socket, a device: reading it could block or never end
            raise CorpusSettingError("{%s} {root} is not a regular file or folder; pass a text file or a folder"
                                     % setting, root=root)
        else:
            raise CorpusSettingError("{%s} {root} does not exist; pass {%s} FOLDER_OR_FILE" % (setting, setting),
                                     root=root)
    if not found:
        raise CorpusSettingError("no .txt files found in {shown}; add some or pass {%s} FOLDER_OR_FILE" % setting,
                                 shown=", ".join(str(p) for p in paths))
    return sorted(found.values())


def _walk_txt(root: Path) -> Iterator[Path]:
    # Follows symbolic links to folders, but visits each real folder once, so a
    # link loop ends instead of recursing forever.
    seen: set[tuple[int, int]] = set()
    for folder, subfolders, filenames in os.walk(root, followlinks=True, onerror=_unreadable_folder):
        stat = os.stat(folder)
        if (stat.st_dev, stat.st_ino) in seen:
            subfolders[:] = []
            continue
        seen.add((stat.st_dev, stat.st_ino))
        subfolders.sort()
        for name in sorted(filenames):
            path = Path(folder, name)
            if name.lower().endswith(".txt") and path.is_file():
                yield path


def _unreadable_folder(error: OSError) -> None:
    # os.walk would skip the folder silently, and its text with it.
    raise CorpusError(f"cannot read folder {error.filename}: {error.strerror or error}")


def read_tokens(
    path: Path,
    tokenizer: Tokenizer,
    encoding_errors: str = "strict",
    *,
    read_size: int = READ_SIZE,
    start: int = 0,
    end: int | None = None,
) -> Iterator[list[str]]:
    """Tokens of bytes [start, end) of one UTF-8 file, a block of `read_size` bytes at a time.

    Text after the block's last safe cut (Tokenizer.safe_cut) waits for the next
    block, so a token is never split. Raises CorpusError for invalid UTF-8 (under
    'strict', naming the byte offset in the file), a binary file or an unreadable one.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors=DECODE_ERRORS[encoding_errors])
    offset = start
    carry = ""
    try:
        with open(path, "rb") as stream:
            stream.seek(start)
            while True:
                size = read_size if end is None else min(read_size, end - offset)
                block = stream.read(size) if size > 0 else b""
                if b"\0" in block:
                    raise CorpusError(f"{path} looks binary (it holds NUL bytes); remove it from the corpus")
                pending = len(decoder.getstate()[0])
                try:
                    text = decoder.decode(block, final=not block)
                except UnicodeDecodeError as error:
                    at = offset - pending + error.start
                    raise CorpusSettingError(
                        "{path} is not valid UTF-8 at byte {at}; fix or convert the file, "
                        "or set {encoding_errors} replace|skip", path=path, at=at,
                    ) from None
                offset += len(block)
                text = carry + text
                if not block:
                    yield tokenizer.tokens(text)
                    return
                cut = tokenizer.safe_cut(text)
                if cut == 0 and len(text) < _MAX_CARRY_CHARS:
                    carry = text
                    continue
                cut = cut or len(text)
                carry = text[cut:]
                yield tokenizer.tokens(text[:cut])
    except OSError as error:
        raise CorpusError(f"cannot read {path}: {error.strerror or error}") from None


@dataclass(frozen=True)
class Piece:
    """Bytes [start, end) of one file: the unit of reading, a task for a worker."""

    file: int  # index into the sorted file list
    path: Path
    start: int
    end: int


def plan_pieces(files: Sequence[Path], sizes: Sequence[int], piece_size: int) -> list[Piece]:
    """Cut each file into pieces of about `piece_size` bytes, each cut at a place where
    Tokenizer.safe_cut would cut (just after a line break or just before a space),
    so every piece tokenises on its own exactly as within the whole file."""
    pieces = []
    for number, (path, size) in enumerate(zip(files, sizes)):
        start = 0
        try:
            with open(path, "rb") as stream:
                while size - start > piece_size:
                    cut = _cut_near(stream, start + piece_size, size)
                    if cut is None:
                        break
                    pieces.append(Piece(number, path, start, cut))
                    start = cut
        except OSError as error:
            raise CorpusError(f"cannot read {path}: {error.strerror or error}") from None
        pieces.append(Piece(number, path, start, size))
    return pieces


def _cut_near(stream, target: int, size: int, window: int = 1 << 16, reach: int = 1 << 20) -> int | None:
    # Both bytes are ASCII, so the cut is also between two whole UTF-8 characters.
    for offset in range(target, min(target + reach, size), window):
        stream.seek(offset)
        data = stream.read(window)
        line_break, space = data.find(b"\n"), data.find(b" ")
        if line_break >= 0 and (space < 0 or line_break < space):
            return offset + line_break + 1  # just after the line break
        if space >= 0:
            return offset + space  # just before the space
    return None

