"""Finding a corpus's text files and reading them: bad input refused in one line that names
the file (through train, as a user meets it) or read as documented.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from tests.helpers import TINY_TEXT, refused_corpus, write, write_corpus
from word_predictor import corpus
from word_predictor.corpus.build import build_corpus
from word_predictor.corpus.files import CorpusError, find_text_files, read_tokens
from word_predictor.corpus.splits import window_block_size
from word_predictor.text.tokenizer import ASCII_WORDS, CHARACTERS, UNICODE_WORDS, words


# build_corpus as train reads text for windows of 5 words, with the rule of text.words.
WINDOWS_OF_5 = dict(tokenizer=ASCII_WORDS, block_size=window_block_size(5), min_tokens=6)


# ---------------------------------------------------------------- bad corpus input


def test_invalid_utf8_names_the_file_and_byte_offset(tmp_path, capsys):
    good = TINY_TEXT * 10
    folder = write_corpus(
        tmp_path, {"a.txt": good, "sub/latin1.txt": good.encode() + "café".encode("latin-1")}
    )
    line = refused_corpus(tmp_path, capsys, folder)
    offset = len(good.encode()) + 3  # the 0xe9 of "café"
    assert f"latin1.txt is not valid UTF-8 at byte {offset}" in line
    assert "--encoding-errors replace|skip" in line


@pytest.mark.parametrize("block", [1, 2, 3, 7, 1 << 20])
@pytest.mark.parametrize("bad", [b"\xff", b"\xe2\x82", b"\xc3(", b"\xed\xa0\x80"])
def test_invalid_utf8_offset_is_exact_across_read_blocks(tmp_path, monkeypatch, block, bad):
    # Multi-byte characters straddle the block edges; the offset must still be the file's.
    prefix = "héllo wörld – ok ".encode()
    path = tmp_path / "x.txt"
    path.write_bytes(prefix + bad + b" tail")
    with pytest.raises(CorpusError, match=f"at byte {len(prefix)};"):
        list(read_tokens(path, ASCII_WORDS, read_size=block))


def test_encoding_errors_replace_and_skip(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes(b"good w\xffords h\xc3ere caf\xc3\xa9")
    assert [w for chunk in read_tokens(path, ASCII_WORDS, "replace") for w in chunk] == [
        "good",
        "w",
        "ords",
        "h",
        "ere",
        "caf",
    ]
    assert [w for chunk in read_tokens(path, ASCII_WORDS, "skip") for w in chunk] == ["good", "words", "here", "caf"]


@pytest.mark.parametrize("errors", ["replace", "skip"])
def test_encoding_errors_flag_reaches_the_corpus(tmp_path, errors):
    folder = write_corpus(tmp_path, {"a.txt": TINY_TEXT.encode() * 5 + b"\xff\xfe the cat"})
    built = build_corpus([folder], unknown_threshold=1, validation_fraction=0.1, test_fraction=0.2,
                         encoding_errors=errors, **WINDOWS_OF_5)  # fmt: skip
    assert built.token_count == len(words(TINY_TEXT * 5)) + 2  # the bad bytes vanish, "the cat" stays


def test_binary_file_is_named_and_refused(tmp_path, capsys):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40
    folder = write_corpus(tmp_path, {"a.txt": TINY_TEXT * 10, "images/logo.txt": png})
    assert "logo.txt looks binary (it holds NUL bytes)" in refused_corpus(tmp_path, capsys, folder)


def test_binary_bytes_late_in_a_big_file_are_found(tmp_path, monkeypatch):
    path = tmp_path / "x.txt"
    path.write_bytes(TINY_TEXT.encode() * 5 + b"\x00\x01\x02")
    with pytest.raises(CorpusError, match="looks binary"):
        list(read_tokens(path, ASCII_WORDS, read_size=64))


def test_empty_files_only(tmp_path, capsys):
    folder = write_corpus(tmp_path, {"a.txt": b"", "b.txt": b""})
    line = refused_corpus(tmp_path, capsys, folder)
    assert "the corpus has 0 word(s) after normalisation" in line


def test_one_empty_file_among_good_ones_is_a_warning(tmp_path, capsys):
    folder = write_corpus(tmp_path, {"a.txt": TINY_TEXT * 5, "empty.txt": b""})
    built = build_corpus(
        [folder], unknown_threshold=1, validation_fraction=0.1, test_fraction=0.2, **WINDOWS_OF_5
    )
    assert built.token_count > 0
    assert capsys.readouterr().err == f"warning: {folder / 'empty.txt'} holds no words after normalisation\n"


def test_corpus_that_normalises_to_nothing(tmp_path, capsys):
    folder = write_corpus(tmp_path, {"a.txt": "!!! ??? ... -- --- — “ ” « » ¿ ¡ 🙂 ♥ §\n" * 200})
    assert "the corpus has 0 word(s)" in refused_corpus(tmp_path, capsys, folder)


def test_vocabulary_of_only_the_unknown_symbol(tmp_path, capsys):
    unique = " ".join(f"w{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i // 676)}" for i in range(3000))
    folder = write_corpus(tmp_path, {"a.txt": unique})
    line = refused_corpus(tmp_path, capsys, folder)
    assert "the vocabulary holds only the unknown symbol; lower --unknown-threshold" in line


def test_one_enormous_line_without_spaces(tmp_path, capsys):
    # 3 MiB, no whitespace: read in bounded pieces, then refused as too few words.
    folder = write_corpus(tmp_path, {"a.txt": b"a" * (3 << 20)})
    started = time.perf_counter()
    assert "the corpus has 3 word(s)" in refused_corpus(tmp_path, capsys, folder)
    assert time.perf_counter() - started < 20


def test_one_enormous_line_of_words_is_read_whole(tmp_path):
    line = TINY_TEXT.replace(" . ", " ") * 20_000  # about 3 MB, one line
    folder = write_corpus(tmp_path, {"a.txt": line})
    started = time.perf_counter()
    built = build_corpus(
        [folder], unknown_threshold=1, validation_fraction=0.1, test_fraction=0.2, **WINDOWS_OF_5
    )
    assert built.token_count == len(line.split())
    assert len(built.vocabulary) == len(set(line.split())) + 1
    assert time.perf_counter() - started < 30


def test_symbolic_link_loops_end_and_each_file_is_read_once(tmp_path, capsys):
    folder = write_corpus(tmp_path, {"a.txt": TINY_TEXT * 5, "sub/b.txt": TINY_TEXT * 5})
    (folder / "sub" / "up").symlink_to("..")  # sub/up/sub/up/... forever
    (folder / "self").symlink_to(folder)
    (folder / "x.txt").symlink_to("y.txt")  # a file link loop
    (folder / "y.txt").symlink_to("x.txt")
    (folder / "also-a.txt").symlink_to("a.txt")  # the same file twice
    assert [p.name for p in find_text_files([folder])] == ["a.txt", "b.txt"]
    built = build_corpus(
        [folder], unknown_threshold=1, validation_fraction=0.1, test_fraction=0.2, **WINDOWS_OF_5
    )
    assert built.token_count == 2 * len(words(TINY_TEXT * 5))
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert "does not exist" in refused_corpus(tmp_path, capsys, loop)


def test_special_files_in_the_corpus_are_skipped_not_read(tmp_path):
    # A FIFO would block a reader forever; a folder named *.txt is no file.
    folder = write_corpus(tmp_path, {"a.txt": TINY_TEXT})
    os.mkfifo(folder / "pipe.txt")
    (folder / "folder.txt").mkdir()
    assert [p.name for p in find_text_files([folder])] == ["a.txt"]


def test_unreadable_file(tmp_path, capsys, monkeypatch):
    folder = write_corpus(tmp_path, {"a.txt": TINY_TEXT * 5, "secret.txt": TINY_TEXT})
    secret = folder / "secret.txt"
    secret.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the refusal the kernel's answer by hand
        real_open = open

        def refusing_open(path, *args, **kwargs):
            if Path(path) == secret:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(corpus.files, "open", refusing_open, raising=False)
    line = refused_corpus(tmp_path, capsys, folder)
    assert f"cannot read {secret}: Permission denied" in line


def test_unreadable_folder_is_an_error_not_skipped(tmp_path, capsys, monkeypatch):
    folder = write_corpus(tmp_path, {"a.txt": TINY_TEXT * 5, "private/b.txt": TINY_TEXT})
    private = folder / "private"
    real_scandir = os.scandir

    def refusing_scandir(path="."):
        if Path(path) == private:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", refusing_scandir)
    line = refused_corpus(tmp_path, capsys, folder)
    assert f"cannot read folder {private}: Permission denied" in line


def test_missing_corpus(tmp_path, capsys):
    assert "does not exist" in refused_corpus(tmp_path, capsys, tmp_path / "nowhere")


# ---------------------------------------------------------------- files and reading


def test_finds_txt_recursively_sorted(tmp_path):
    write(tmp_path / "b.txt", "b")
    write(tmp_path / "sub" / "a.txt", "a")
    write(tmp_path / "notes.md", "ignored")
    files = find_text_files([tmp_path])
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["b.txt", "sub/a.txt"]


def test_a_single_file_is_taken_as_given(tmp_path):
    path = write(tmp_path / "story.text", "hello")
    assert find_text_files([path]) == [path]


def test_missing_or_empty_corpus_says_so(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        find_text_files([tmp_path / "nope"])
    with pytest.raises(CorpusError, match="no .txt files"):
        find_text_files([tmp_path])


@pytest.mark.parametrize("read_size", [1, 2, 3, 7, 64, 1 << 20])
def test_words_split_across_read_blocks_stay_whole(tmp_path, read_size):
    path = write(tmp_path / "a.txt", "alpha béta\r\ngamma délta  epsilon\n")
    read = [t for chunk in read_tokens(path, UNICODE_WORDS, read_size=read_size) for t in chunk]
    assert read == ["alpha", "béta", "gamma", "délta", "epsilon"]
    chars = [t for chunk in read_tokens(path, CHARACTERS, read_size=read_size) for t in chunk]
    assert "".join(chars) == "alpha béta\ngamma délta  epsilon\n"


def test_invalid_utf8_names_file_and_byte(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good words " + b"\xff\xfe" + b" more")
    with pytest.raises(CorpusError, match=r"bad.txt is not valid UTF-8 at byte 11"):
        list(read_tokens(path, UNICODE_WORDS))
    replaced = [t for chunk in read_tokens(path, UNICODE_WORDS, "replace") for t in chunk]
    assert replaced == ["good", "words", "more"]
