"""Faults injected and bad inputs fed to train, predict and evaluate.

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
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.conftest import TINY_TEXT
from word_predictor import corpus, evaluate, predict, rundir, train
from word_predictor.training import trainer
from word_predictor.training.checkpoint import StopOnNonFiniteLoss, read_state
from word_predictor.config import load_config
from word_predictor.corpus.files import CorpusError, find_text_files, read_tokens
from word_predictor.corpus.build import build_corpus
from word_predictor.corpus.splits import window_block_size
from word_predictor.model.build import build_model
from word_predictor.text.tokenizer import ASCII_WORDS, words
from word_predictor.text.vocabulary import sha256_of

REPO = Path(__file__).resolve().parents[1]
# build_corpus as train reads text for windows of 5 words, with the rule of text.words.
WINDOWS_OF_5 = dict(tokenizer=ASCII_WORDS, block_size=window_block_size(5), min_tokens=6)


# ---------------------------------------------------------------- helpers


def one_line(err: str, prog: str) -> str:
    """The single line a failed command printed on stderr."""
    assert "Traceback" not in err
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"word_predictor.{prog}: error: "), lines[0]
    return lines[0]


def copy_run(run: Path, tmp_path: Path, name: str = "copy") -> Path:
    logdir = tmp_path / "logs"
    logdir.mkdir(exist_ok=True)
    return Path(shutil.copytree(run, logdir / name))


def set_status(run: Path, **fields) -> None:
    rundir.write_json(run / rundir.STATUS_FILE, {**rundir.read_status(run), **fields})


def train_flags(corpus_path: Path, logdir: Path, *extra: str) -> list[str]:
    return ["--corpus", str(corpus_path), "--logdir", str(logdir), "--units", "8", "--embedding-dim", "4",
            "--epochs", "2", "--batch-size", "16", "--unknown-threshold", "1", *extra]  # fmt: skip


def write_corpus(tmp_path: Path, files: dict[str, bytes | str]) -> Path:
    folder = tmp_path / "corpus"
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
    folder.mkdir(exist_ok=True)
    return folder


def refused_corpus(tmp_path: Path, capsys, corpus_path: Path, *extra: str) -> str:
    """Train on a bad corpus: exit 1, one line, and no run folder left behind."""
    logdir = tmp_path / "logs"
    assert train.main(train_flags(corpus_path, logdir, "--run-name", "bad", *extra)) == 1
    err = capsys.readouterr().err
    assert not (logdir / "bad").exists()
    errors = [line for line in err.splitlines() if not line.startswith("warning: ")]
    return one_line("\n".join(errors), "train")


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
    assert built.tokens == len(words(TINY_TEXT * 5)) + 2  # the bad bytes vanish, "the cat" stays


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
    assert built.tokens > 0
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
    assert built.tokens == len(line.split())
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
    assert built.tokens == 2 * len(words(TINY_TEXT * 5))
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


# ---------------------------------------------------------------- bad prediction input


WORDLESS = {
    "empty": "",
    "whitespace": "   \t\n  ",
    "punctuation": "?!.,;:()[]{}",
    "emoji": "🙂🙂🙂",
    "hyphens": "- -- ---",
}


@pytest.mark.slow
@pytest.mark.parametrize("text", WORDLESS.values(), ids=WORDLESS.keys())
def test_prediction_input_without_words_is_a_usage_error(trained_run, capsys, text):
    assert predict.main(["--run", str(trained_run), text]) == 2
    captured = capsys.readouterr()
    line = one_line(captured.err, "predict")
    assert "is empty" in line or "no words after normalisation" in line
    assert captured.out == ""


# Under the default (unicode) rule these are words: unknown to an English run, but read.
FOREIGN = {"digits": "123 456 7.89", "cyrillic": "Привет, как дела?", "chinese": "你好世界", "arabic": "مرحبا بالعالم"}


@pytest.mark.slow
@pytest.mark.parametrize("text", FOREIGN.values(), ids=FOREIGN.keys())
def test_words_of_any_script_are_read_as_unknown_words(trained_run, capsys, text):
    assert predict.main(["--run", str(trained_run), "--json", text]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["context"] and answer["unknown"] == answer["context"]
    assert len(answer["predictions"]) == 5


@pytest.mark.slow
def test_mixed_script_keeps_every_word(trained_run, capsys):
    assert predict.main(["--run", str(trained_run), "--json", "the 猫 cat ça sat"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["context"] == ["the", "猫", "cat", "ça", "sat"] and answer["unknown"] == ["猫", "ça"]


@pytest.mark.slow
def test_a_megabyte_of_text_is_fast(trained_run, capsys):
    text = ("the cat sat on the mat and the dog sat on the rug " * 30_000)[: 1 << 20]
    started = time.perf_counter()
    assert predict.main(["--run", str(trained_run), "--words", "2", text]) == 0
    assert time.perf_counter() - started < 15
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines()[0] == f"context: {' '.join(words(text)[-5:])}"
    prediction = captured.out.splitlines()[-1]
    assert prediction.startswith("Prediction: …") and len(prediction) < 400


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--top-k", "0", "hello"],
        ["--words", "0", "hello"],
        ["--top-k", "many", "hello"],
        ["--bogus", "hello"],
    ],
)
def test_bad_predict_flags_are_usage_errors(argv, tmp_path, capsys):
    try:
        code = predict.main(["--logdir", str(tmp_path), *argv])
    except SystemExit as exit_:  # argparse's own usage errors
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error:" in err.splitlines()[-1]


@pytest.mark.slow
def test_text_the_terminal_cannot_encode_is_echoed_not_fatal(trained_run):
    # Bytes that are not UTF-8 reach Python as lone surrogates; a strict UTF-8
    # stdout (as under a desktop locale) used to crash on echoing them.
    result = subprocess.run(
        [sys.executable, "-m", "word_predictor.predict", "--run", str(trained_run), b"the caf\xe9 sat"],
        capture_output=True, cwd=REPO, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "utf-8"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    assert b"Traceback" not in result.stderr
    assert result.stdout.decode().splitlines()[-1].startswith("Prediction: the caf? sat ")


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
    assert f"predicts {data['size'] - 1} words but the vocabulary has {data['size']}" in line


@pytest.mark.slow
def test_a_model_from_another_run_is_refused(trained_run, tmp_path, capsys):
    run = copy_run(trained_run, tmp_path)
    config, _ = load_config(run / "config.json")
    config.vocabulary_size += 3
    rundir.save_model_atomic(build_model(config), run / "model.keras")
    assert predict.main(["--run", str(run), "the cat"]) == 1
    assert "is not the model this run finished with" in one_line(capsys.readouterr().err, "predict")
    # ...and with the status hash forged to match, by its output size.
    set_status(run, model_sha256=sha256_of(run / "model.keras"))
    assert predict.main(["--run", str(run), "the cat"]) == 1
    line = one_line(capsys.readouterr().err, "predict")
    assert (
        f"predicts {config.vocabulary_size} words but the vocabulary has {config.vocabulary_size - 3}" in line
    )


@pytest.mark.slow
def test_a_cut_short_model_file_is_refused(trained_run, tmp_path, capsys):
    run = copy_run(trained_run, tmp_path)
    data = (run / "model.keras").read_bytes()
    (run / "model.keras").write_bytes(data[: len(data) // 2])
    set_status(run, model_sha256=sha256_of(run / "model.keras"))
    assert predict.main(["--run", str(run), "the cat"]) == 1
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
    config, _ = load_config(run / "config.json")
    _lambda_model(config.vocabulary_size, marker).save(run / "model.keras")
    marker.unlink(missing_ok=True)  # building the model ran it once, here
    set_status(run, model_sha256=sha256_of(run / "model.keras"))  # a forger who rewrote the status too
    for command, argv in ((predict, ["the cat"]), (evaluate, [])):
        assert command.main(["--run", str(run), *argv]) == 1
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

    config = Config(vocabulary_size=7, units=8, embedding_dim=4)
    old = build_model(config)
    path = tmp_path / "model.keras"
    rundir.save_model_atomic(old, path)
    before = path.read_bytes()
    fill_the_disk_on_save(monkeypatch)
    with pytest.raises(rundir.RunError, match="No space left on device; its previous version is kept"):
        rundir.save_model_atomic(build_model(config), path)
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
    assert rundir.read_json(path) == {"complete": True}
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


# ---------------------------------------------------------------- non-finite loss


def poisoned_at(epoch_to_poison: int, seen: dict):
    """A StopOnNonFiniteLoss that first sets every weight to NaN at the start of one epoch."""

    class Poisoned(StopOnNonFiniteLoss):
        def on_epoch_begin(self, epoch, logs=None):
            super().on_epoch_begin(epoch, logs)
            if epoch == epoch_to_poison:
                run = Path(seen["run"])
                if (run / "model.keras").exists():
                    seen["model_sha256"] = sha256_of(run / "model.keras")
                self.model.set_weights([np.full_like(w, np.nan) for w in self.model.get_weights()])

    return Poisoned


@pytest.mark.slow
def test_a_nan_loss_stops_training_and_keeps_the_last_good_model(tmp_path, capsys, monkeypatch):
    folder = write_corpus(tmp_path, {"a.txt": TINY_TEXT * 20})
    run = tmp_path / "logs" / "nan"
    seen = {"run": run}
    monkeypatch.setattr(trainer, "StopOnNonFiniteLoss", poisoned_at(1, seen))
    assert train.main(train_flags(folder, tmp_path / "logs", "--run-name", "nan", "--epochs", "3")) == 1
    line = one_line(capsys.readouterr().err, "train")
    assert "training stopped in epoch 2, batch 1: the loss became NaN or infinite" in line
    assert "The best model so far (epoch 1) is kept" in line
    # The model and checkpoint are epoch 1's, untouched; the run is usable.
    assert sha256_of(run / "model.keras") == seen["model_sha256"]
    assert read_state(run)["epochs_completed"] == 1
    assert all(np.all(np.isfinite(w)) for w in rundir.load_model(run / "model.keras").get_weights())
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["stopped"] == "non-finite loss" and metrics["best_epoch"] == 1
    assert predict.main(["--run", str(run), "the cat"]) == 0


@pytest.mark.slow
def test_a_nan_loss_in_the_first_epoch_leaves_a_run_that_says_so(tmp_path, capsys, monkeypatch):
    folder = write_corpus(tmp_path, {"a.txt": TINY_TEXT * 20})
    run = tmp_path / "logs" / "nan"
    monkeypatch.setattr(trainer, "StopOnNonFiniteLoss", poisoned_at(0, {"run": run}))
    assert train.main(train_flags(folder, tmp_path / "logs", "--run-name", "nan")) == 1
    line = one_line(capsys.readouterr().err, "train")
    assert "before the first epoch ended, so there is no model to keep; lower --learning-rate" in line
    assert not (run / "model.keras").exists()
    assert predict.main(["--run", str(run), "the cat"]) == 1
    line = one_line(capsys.readouterr().err, "predict")
    assert "stopped (non-finite loss) before its first epoch ended and holds no model" in line


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


def test_resume_takes_no_other_settings(tmp_path, capsys):
    assert train.main(["--resume", str(tmp_path), "--units", "9", "--cell", "gru"]) == 2
    line = one_line(capsys.readouterr().err, "train")
    assert "--resume takes every setting from the run; drop --cell --units" in line


@pytest.mark.slow
def test_a_complete_run_is_not_resumed(trained_run, capsys):
    assert train.main(["--resume", str(trained_run)]) == 1
    assert "is already complete" in one_line(capsys.readouterr().err, "train")
