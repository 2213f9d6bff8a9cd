import io
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from word_predictor import predict
from word_predictor.rundir import load_run
from word_predictor.text.tokenizer import words

pytestmark = pytest.mark.backend

@pytest.mark.slow
def test_predict_prints_top_k_and_the_prediction_line(trained_run, capsys):
    assert predict.main(["--run", str(trained_run), "--top-k", "3", "Some of them LOOK like"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "context: some of them look like"
    ranked = [line for line in out if line.strip()[:2] in ("1.", "2.", "3.")]
    assert len(ranked) == 3
    probabilities = [float(line.split()[-1]) for line in ranked]
    assert probabilities == sorted(probabilities, reverse=True)
    assert out[-1] == f"Prediction: Some of them LOOK like {ranked[0].split()[1]}"


@pytest.mark.slow
def test_predict_json_reports_unknown_words_and_short_context(trained_run, capsys):
    assert predict.main(["--run", str(trained_run), "--json", "the", "zyzzyva"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["context"] == ["the", "zyzzyva"]
    assert result["unknown"] == ["zyzzyva"]
    assert len(result["predictions"]) == 5
    vocabulary = load_run(trained_run).vocabulary
    assert all(p["word"] in vocabulary and p["word"] != "<unk>" for p in result["predictions"])
    assert 0 < sum(p["probability"] for p in result["predictions"]) <= 1.0001


@pytest.mark.slow
def test_predict_uses_only_the_last_chunk_words(trained_run, capsys):
    assert predict.main(["--run", str(trained_run), "--json", "bird " * 50 + "the cat sat on the"]) == 0
    assert json.loads(capsys.readouterr().out)["context"] == ["the", "cat", "sat", "on", "the"]


@pytest.mark.slow
def test_predict_finds_the_newest_complete_run(trained_run, capsys):
    assert predict.main(["--logdir", str(trained_run.parent), "--words", "3", "the cat"]) == 0
    captured = capsys.readouterr()
    last = captured.out.splitlines()[-1]
    assert last.startswith("Prediction: the cat ") and len(last.split()) == 6
    # Which run answered, named on stderr, so its figures are not taken for another's.
    assert captured.err == f"using run {trained_run} (newest complete run under {trained_run.parent})\n"


def test_empty_text_is_a_usage_error(capsys, tmp_path):
    assert predict.main(["--logdir", str(tmp_path), "   "]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_no_run_to_load_is_one_line(capsys, tmp_path):
    assert predict.main(["--logdir", str(tmp_path / "none"), "hello"]) == 1
    err = capsys.readouterr().err
    assert "no run found" in err and err.count("\n") == 1


# ---------------------------------------------------------------- --complete


@pytest.mark.slow
def test_complete_lists_only_known_words_with_the_prefix(trained_run, capsys):
    assert predict.main(["--run", str(trained_run), "--json", "--complete", "the B"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["context"] == ["the"] and result["prefix"] == "b"
    listed = [c["word"] for c in result["completions"]]
    assert listed and all(word.startswith("b") for word in listed) and "bird" in listed
    assert sum(c["probability"] for c in result["completions"]) == pytest.approx(1.0)  # every b-word listed
    assert predict.main(["--run", str(trained_run), "--complete", "--top-k", "1", "some of them l"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "context: some of them" and out[1] == "words that start with 'l':"
    assert len(out) == 3 and out[2].split()[1] in ("like", "look", "looked")


@pytest.mark.slow
def test_complete_says_when_no_known_word_matches(trained_run, capsys):
    assert predict.main(["--run", str(trained_run), "--complete", "the cat xq"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no known word starts with 'xq'"
    assert predict.main(["--run", str(trained_run), "--complete", "--json", "xq"]) == 0
    assert json.loads(capsys.readouterr().out) == {"context": [], "prefix": "xq", "unknown": [], "completions": []}


# ---------------------------------------------------------------- --input

INPUT_LINES = ["the cat", "", "Some of THEM look", "zyzzyva the", "bird " * 3 + "the cat sat on the", "!!"]


def answers_to(capsys, run, lines: list[str], tmp_path, *flags: str) -> list[str]:
    path = tmp_path / "contexts.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert predict.main(["--run", str(run), "--input", str(path), *flags]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out.splitlines()


@pytest.mark.slow
def test_input_answers_each_line_in_order_as_predict_would(either_run, capsys, tmp_path):
    answers = [json.loads(line) for line in answers_to(capsys, either_run, INPUT_LINES, tmp_path, "--json")]
    assert len(answers) == len(INPUT_LINES)
    for line, answer in zip(INPUT_LINES, answers):
        if not words(line):
            continue
        assert predict.main(["--run", str(either_run), "--json", line]) == 0
        alone = json.loads(capsys.readouterr().out)
        assert answer["context"] == alone["context"] and answer["unknown"] == alone["unknown"]
        assert [p["word"] for p in answer["predictions"]] == [p["word"] for p in alone["predictions"]]
        for batched, single in zip(answer["predictions"], alone["predictions"]):
            assert batched["probability"] == pytest.approx(single["probability"], rel=1e-4)
    text = answers_to(capsys, either_run, INPUT_LINES, tmp_path)
    assert len(text) == len(INPUT_LINES) and all(line.startswith("next: ") for line in text)


@pytest.mark.slow
def test_an_empty_input_line_is_answered_from_the_start_of_a_text(trained_run, capsys, tmp_path):
    [empty, wordless] = [json.loads(a) for a in answers_to(capsys, trained_run, ["", "!!"], tmp_path, "--json")]
    assert empty == wordless and empty["context"] == [] and empty["unknown"] == []
    vocabulary = load_run(trained_run).vocabulary
    commonest = sorted(range(1, len(vocabulary)), key=lambda i: (-vocabulary.counts[i], i))[:5]
    assert [p["word"] for p in empty["predictions"]] == [vocabulary.tokens[i] for i in commonest]
    top = empty["predictions"][0]["probability"]
    assert top == pytest.approx(vocabulary.counts[commonest[0]] / sum(vocabulary.counts), rel=1e-5)


@pytest.mark.slow
def test_input_from_stdin_with_completions(trained_run, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("the ca\nthe xq\n\nsome of them l\n"))
    assert predict.main(["--run", str(trained_run), "--input", "-", "--complete", "--top-k", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4
    assert out[0] == "complete 'ca': cat (1.000)"
    assert out[1] == "complete 'xq': no known word starts with it"
    assert out[2].startswith("complete '': the (")
    assert out[3].startswith("complete 'l': l")


@pytest.mark.slow
def test_a_megabyte_input_line_reads_only_the_last_window(trained_run, capsys, tmp_path):
    line = ("the cat sat on the mat and the dog sat on the rug " * 30_000)[: 1 << 20]
    started = time.perf_counter()
    answers = answers_to(capsys, trained_run, [line, "the cat"], tmp_path, "--json")
    assert time.perf_counter() - started < 15
    assert [json.loads(a)["context"] for a in answers] == [words(line)[-5:], ["the", "cat"]]


@pytest.mark.parametrize(
    "argv",
    [
        ["--input", "-", "the cat"],
        ["--interactive", "the cat"],
        ["--input", "-", "--interactive"],
        ["--interactive", "--complete"],
        ["--input", "-", "--words", "2"],
        ["--complete", "--words", "2", "the ca"],
        ["--top-k", "0", "the cat"],
        ["--top-k", "nan", "the cat"],
        ["--words", "-1", "the cat"],
    ],
)
def test_conflicting_or_bad_flags_are_one_line_exit_2(argv, tmp_path, capsys):
    try:
        code = predict.main(["--logdir", str(tmp_path), *argv])
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "Traceback" not in captured.err


@pytest.mark.slow
def test_an_unreadable_input_file_is_one_line(trained_run, capsys, tmp_path):
    assert predict.main(["--run", str(trained_run), "--input", str(tmp_path / "missing.txt")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("word_predictor.predict: error: cannot read --input") and err.count("\n") == 1


# ---------------------------------------------------------------- --interactive

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
# Makes the pseudo-terminal the child's controlling terminal, so Ctrl-C there sends it SIGINT.
AT_TERMINAL = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


def read_until(fd: int, marker: bytes, seen: bytearray, timeout: float = 120) -> bytes:
    """Read `fd` into `seen` until `marker` appears after what was already there; return the new part."""
    start, deadline = len(seen), time.monotonic() + timeout
    while marker not in seen[start:]:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"no {marker!r} within {timeout} s; read: {bytes(seen[-2000:])!r}")
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the terminal closed: the child has gone
            chunk = b""
        if not chunk:
            raise AssertionError(f"output ended before {marker!r}; read: {bytes(seen[-2000:])!r}")
        seen += chunk
    return bytes(seen[start:])


@pytest.mark.slow
@pytest.mark.parametrize("leave", [b"\x04", b"\x03"], ids=["ctrl-d", "ctrl-c"])
def test_interactive_at_a_terminal(trained_run, leave):
    controller, terminal = os.openpty()
    argv = ["-m", "word_predictor.predict", "--interactive", "--top-k", "3", "--run", str(trained_run)]
    child = subprocess.Popen([sys.executable, "-c", AT_TERMINAL, *argv], stdin=terminal, stdout=terminal,
                             stderr=terminal, cwd=REPO, env=ENV, start_new_session=True)  # fmt: skip
    os.close(terminal)
    seen = bytearray()
    try:
        read_until(controller, b"> ", seen)
        os.write(controller, b"the ca\n")
        answer = read_until(controller, b"> ", seen).decode()
        assert "next: " in answer and "complete 'ca': cat (1.000)" in answer
        os.write(controller, b"the cat \n")
        answer = read_until(controller, b"> ", seen).decode()
        assert "next: " in answer and "complete" not in answer
        time.sleep(0.5)  # let input() reach its read: a Ctrl-C that lands before it is seen only then
        os.write(controller, leave)
        try:
            code = child.wait(timeout=20)
        except subprocess.TimeoutExpired:  # a very busy machine: it landed before the read anyway
            os.write(controller, leave)
            code = child.wait(timeout=60)
        assert code == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(controller)
    assert b"Traceback" not in seen and b"interrupted" not in seen


@pytest.mark.slow
def test_interactive_through_a_pipe_answers_line_by_line(trained_run):
    argv = ["-m", "word_predictor.predict", "--interactive", "--json", "--run", str(trained_run)]
    child = subprocess.Popen([sys.executable, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=REPO, env=ENV)  # fmt: skip
    seen = bytearray()
    try:
        child.stdin.write(b"the ca\n")
        child.stdin.flush()
        first = json.loads(read_until(child.stdout.fileno(), b"\n", seen))  # answered before the next line
        assert first["text"] == "the ca" and first["context"] == ["the", "ca"]
        assert first["completions"]["completions"] == [{"word": "cat", "probability": 1.0}]
        child.stdin.write(b"the cat \n\n")
        child.stdin.close()
        assert child.wait(timeout=60) == 0
        rest = [json.loads(line) for line in (bytes(seen) + child.stdout.read()).decode().splitlines()[1:]]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert [answer["text"] for answer in rest] == ["the cat ", ""]
    assert all(answer["completions"] is None and len(answer["predictions"]) == 5 for answer in rest)
    assert child.stderr.read() == b""
