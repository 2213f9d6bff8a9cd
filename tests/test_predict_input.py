"""Bad and odd prediction input through predict: one line and exit 2 for what holds no word,
unknown words for any script, big and unprintable text answered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.helpers import REPO, one_line
from word_predictor import predict
from word_predictor.text.tokenizer import words


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
    assert "TEXT holds nothing to read" in line  # refused as an empty TEXT is
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



# ---------------------------------------------------------------- --input that is not UTF-8


@pytest.mark.slow
def test_input_that_is_not_utf8_is_refused_naming_line_and_byte_after_the_lines_before(trained_run, capsys, tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"the cat\nthe dog\nthe caf\xe9 sat\nthe end\n")
    assert predict.main(["--run", str(trained_run), "--json", "--input", str(path)]) == 1
    captured = capsys.readouterr()
    assert [json.loads(line)["line"] for line in captured.out.splitlines()] == [1, 2]
    assert one_line(captured.err, "predict") == (f"word_predictor.predict: error: --input {path}: line 3 is not valid "
                                                 "UTF-8 at byte 8 (0xe9); fix or convert it, or set --encoding-errors "
                                                 "replace|skip")  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("setting, context", [("replace", ["mat", "sat"]), ("skip", ["matsat"])])
def test_input_that_is_not_utf8_is_read_as_asked_with_one_warning(trained_run, capsys, tmp_path, setting, context):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"the cat\nmat\xe9sat\n\xff\xfe the\n")
    assert predict.main(["--run", str(trained_run), "--json", "--input", str(path), "--encoding-errors", setting]) == 0
    captured = capsys.readouterr()
    answers = [json.loads(line) for line in captured.out.splitlines()]
    assert [answer["line"] for answer in answers] == [1, 2, 3] and answers[1]["context"] == context
    assert captured.err.splitlines() == [f"warning: --input line 2 is not valid UTF-8 at byte 4 (0xe9); bytes that are "
                                         f"not UTF-8 are {'read as word breaks' if setting == 'replace' else 'dropped'} "
                                         f"(--encoding-errors {setting}), here and in any later line"]  # fmt: skip
