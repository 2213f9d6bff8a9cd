"""Hostile cases for predict, generate and evaluate (flags, odd text, a failing stdout), and run_cli's output
rules for every command: one line on stderr, the right exit code, nothing lost."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

import pytest

from tests.helpers import TINY_TEXT, train_tiny
from word_predictor import cli, evaluate, generate, predict, runs
from word_predictor.errors import EXIT_BROKEN_PIPE

RLO, ZWJ, ZWSP, BOM = "\u202e", "\u200d", "\u200b", "\ufeff"


def _one_error_line(err: str, command: str) -> str:
    lines = [line for line in err.splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"word_predictor.{command}: error: "), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def char_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("char-query")
    (root / "corpus").mkdir()
    (root / "corpus" / "a.txt").write_text(TINY_TEXT * 20, encoding="utf-8")
    char = ["--run-name", "char", "--level", "char", "--bptt", "20", "--batch-size", "4"]
    assert train_tiny(root / "corpus", root / "logs", *char) == 0
    return root / "logs" / "char"


# ---------------------------------------------------------------- sampling


@pytest.mark.slow
@pytest.mark.parametrize("setting", [["--top-p", "1e-12"], ["--temperature", "1e-320"], ["--top-p", "5e-324"]])
def test_generate_at_the_edge_of_a_flag_writes_words_not_the_unknown_symbol(trained_run, capsys, setting):
    argv = ["--run", str(trained_run), "--words", "6", "--seed", "3", "--json", *setting, "the cat"]
    assert generate.main(argv) == 0
    captured = capsys.readouterr()
    assert "Warning" not in captured.err and "warning" not in captured.err
    [sample] = json.loads(captured.out)["samples"]
    assert len(sample["tokens"]) == 6 and "<unk>" not in sample["tokens"]


@pytest.mark.slow
def test_generate_samples_are_capped_as_words_are(trained_run, capsys):
    assert generate.main(["--run", str(trained_run), "--words", "1", "--samples", "10000000", "--json", "the"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)["samples"]) == generate.MAX_SAMPLES
    assert captured.err.count("\n") == 1 and "--samples 10,000,000 is more than 256" in captured.err


@pytest.mark.slow
def test_predict_words_are_capped_as_generate_s_are(trained_run, capsys, monkeypatch):
    monkeypatch.setattr(cli, "MAX_WORDS", 7)  # the real cap, 10,000 greedy words, takes seconds to write
    assert predict.main(["--run", str(trained_run), "--words", "60", "the cat"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "warning: --words 60 is more than 7; using 7\n"
    [prediction] = [line for line in captured.out.splitlines() if line.startswith("Prediction: ")]
    assert prediction.split()[1:3] == ["the", "cat"] and len(prediction.split()) == 1 + 2 + 7


# ---------------------------------------------------------------- evaluate over nothing known


@pytest.mark.slow
def test_evaluate_on_a_text_of_no_known_word_shows_no_figure_over_nothing(trained_run, capsys, tmp_path):
    unknown = tmp_path / "unknown.txt"
    unknown.write_text("zebra quokka yak okapi narwhal " * 8, encoding="utf-8")
    assert evaluate.main(["--run", str(trained_run), "--text", str(unknown), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["known_top1"] is None and scores["known_top5"] is None and scores["keystroke_savings"] is None
    assert evaluate.main(["--run", str(trained_run), "--text", str(unknown)]) == 0
    out = capsys.readouterr().out
    assert "known top-1:       n/a" in out and "keystrokes saved:  n/a" in out


# ---------------------------------------------------------------- format and control characters


@pytest.mark.slow
def test_a_joiner_inside_a_word_leaves_it_known(trained_run, capsys):
    assert predict.main(["--run", str(trained_run), "--json", f"the c{ZWJ}at s{BOM}at"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["context"] == ["the", "cat", "sat"] and answer["unknown"] == []


@pytest.mark.slow
@pytest.mark.parametrize("text", [ZWSP * 3, ZWJ + RLO + BOM, ""])
def test_a_text_empty_once_normalised_is_refused_as_an_empty_text(trained_run, capsys, text):
    assert predict.main(["--run", str(trained_run), text]) == 2
    captured = capsys.readouterr()
    line = _one_error_line(captured.err, "predict")
    assert "TEXT holds nothing to read" in line and captured.out == ""


@pytest.mark.slow
def test_a_direction_override_is_never_printed_raw(trained_run, capsys):
    assert predict.main(["--run", str(trained_run), f"the cat {RLO}sat"]) == 0
    out = capsys.readouterr().out
    assert RLO not in out and "\\u202e" in out  # the Prediction line shows it escaped
    assert generate.main(["--run", str(trained_run), "--words", "2", "--seed", "1", f"the {RLO}cat"]) == 0
    captured = capsys.readouterr()
    assert RLO not in captured.out + captured.err


def test_printable_escapes_every_control_and_format_character():
    shown = cli.printable(f"a{RLO}b\nc\x00d\u2028e\u2066f")
    assert shown == "a\\u202eb\\nc\\x00d\\u2028e\\u2066f" and shown.isprintable()
    assert cli.printable("two\nlines", line_breaks=True) == "two\nlines"


# ---------------------------------------------------------------- --input


@pytest.mark.slow
def test_every_input_line_gets_one_answer_whatever_it_holds(trained_run, capsys, tmp_path, monkeypatch):
    lines = ["the cat", f"the {RLO}dog", "a\u2028b\x0bc\x1cd\x85e", "the \x00 mat\r", "", ZWJ * 4, "the\fbird"]
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO("\n".join(lines).encode() + b"\n\xff\n")))
    assert predict.main(["--run", str(trained_run), "--input", "-", "--json", "--encoding-errors", "replace"]) == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [answer["line"] for answer in answers] == list(range(1, len(lines) + 2))
    input_file = tmp_path / "odd.txt"
    input_file.write_bytes("\n".join(lines).encode())
    assert predict.main(["--run", str(trained_run), "--input", str(input_file)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == len(lines) and len(out.splitlines()) == len(lines)  # no other line break
    assert all(line.isprintable() for line in out.splitlines())


def test_read_lines_holds_only_the_end_of_an_over_long_line():
    line_count, length = 3, 8 << 20  # an 8 MiB line between two short ones, 1 MiB kept
    stream = _ChunkedStream(b"first\n", b"x" * (length - 3) + b"end\n", b"last")
    tracemalloc.start()  # counts what read_lines allocates, not the stream's own bytes
    try:
        found = [(number, len(line), line[-3:], dropped) for number, line, dropped in cli.read_lines(stream)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert found == [(1, 5, "rst", 0), (2, cli.LONGEST_LINE, "end", length - cli.LONGEST_LINE), (3, 4, "ast", 0)]
    assert len(found) == line_count
    assert peak < 6 * cli.LONGEST_LINE  # the kept end, a read and a copy: not the 8 MiB line


class _ChunkedStream(io.RawIOBase):
    """A byte stream made as it is read, so the test itself never holds the long line."""

    def __init__(self, *parts: bytes):
        self.parts = [memoryview(part) for part in parts]

    def read(self, size: int = -1) -> bytes:
        while self.parts and not len(self.parts[0]):
            self.parts.pop(0)
        if not self.parts:
            return b""
        block, self.parts[0] = self.parts[0][:size], self.parts[0][size:]
        return bytes(block)


@pytest.mark.slow
def test_an_over_long_input_line_is_answered_from_its_end_with_one_warning(trained_run, capsys, tmp_path):
    long_line = "the dog sat on the rug " * ((cli.LONGEST_LINE // 23) + 100) + "the cat"
    source = tmp_path / "long.txt"
    source.write_text(f"the bird\n{long_line}\n", encoding="utf-8")
    assert predict.main(["--run", str(trained_run), "--input", str(source), "--json"]) == 0
    captured = capsys.readouterr()
    answers = [json.loads(line) for line in captured.out.splitlines()]
    assert [a["line"] for a in answers] == [1, 2] and answers[1]["context"][-2:] == ["the", "cat"]
    assert captured.err.count("\n") == 1 and "--input line 2 is longer than 1,048,576 bytes" in captured.err


# ---------------------------------------------------------------- output that cannot be written


@pytest.mark.parametrize("command", ["predict", "generate", "runs"])
def test_a_full_disk_behind_stdout_is_one_line_and_exit_1(command, trained_run, capsys, monkeypatch):
    argv = {"predict": ["--run", str(trained_run), "the cat"],
            "generate": ["--run", str(trained_run), "--words", "3", "the"],
            "runs": ["--logdir", str(trained_run.parent)]}[command]  # fmt: skip
    main = {"predict": predict.main, "generate": generate.main, "runs": runs.main}[command]
    with open("/dev/full", "w") as full:
        monkeypatch.setattr("sys.stdout", full)
        code = main(argv)
        monkeypatch.undo()
    line = _one_error_line(capsys.readouterr().err, command)
    assert code == 1 and "cannot write the output: No space left on device" in line


def test_a_closed_stdout_is_one_line_and_exit_1(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdout", None)  # what Python sets when started with >&-
    assert cli.run_cli("word_predictor.predict", lambda: print("lost")) == 1
    assert "standard output is closed" in _one_error_line(capsys.readouterr().err, "predict")


def test_a_reader_that_leaves_early_ends_quietly(capsys, monkeypatch):
    class LeftEarly(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("sys.stdout", LeftEarly())
    assert cli.run_cli("word_predictor.predict", lambda: print("the")) == EXIT_BROKEN_PIPE
    monkeypatch.undo()
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------- the char level


@pytest.mark.slow
def test_char_level_complete_finishes_the_word_being_typed(char_run, capsys):
    assert predict.main(["--run", str(char_run), "--complete", "--json", "--top-k", "3", "the ca"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["prefix"] == "ca" and len(answer["completions"]) == 3
    words = [c["word"] for c in answer["completions"]]
    probabilities = [c["probability"] for c in answer["completions"]]
    assert all(w.startswith("ca") and w.isalpha() for w in words) and len(set(words)) == 3
    assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1 + 1e-6
    assert predict.main(["--run", str(char_run), "--complete", "the ca"]) == 0
    out = capsys.readouterr().out
    assert "words that start with 'ca':" in out and words[0] in out


@pytest.mark.slow
def test_char_level_messages_speak_of_characters(char_run, capsys):
    assert generate.main(["--run", str(char_run), "--chars", "3", "--stop", "ab", "the"]) == 2
    assert "must be one character" in _one_error_line(capsys.readouterr().err, "generate")
