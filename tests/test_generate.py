import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from word_predictor import generate, predict
from word_predictor.rundir import load_run

pytestmark = pytest.mark.backend

REPO = Path(__file__).resolve().parents[1]


def run_generate(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = generate.main(list(argv))
    except SystemExit as exit_:  # argparse's own usage errors
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def generated(capsys, run, *argv: str) -> dict:
    code, out, err = run_generate(capsys, "--run", str(run), "--json", *argv)
    assert code == 0, err
    return json.loads(out)


@pytest.mark.slow
def test_the_same_seed_writes_the_same_text_and_seeds_differ(either_run, capsys):
    first = generated(capsys, either_run, "--seed", "3", "--words", "15", "the cat")
    assert generated(capsys, either_run, "--seed", "3", "--words", "15", "the cat") == first
    texts = {generated(capsys, either_run, "--seed", str(s), "--words", "15", "the cat")["samples"][0]["text"]
             for s in range(5)}  # fmt: skip
    assert len(texts) > 1


@pytest.mark.slow
def test_json_shape(either_run, capsys):
    result = generated(capsys, either_run, "--seed", "0", "--words", "7", "--samples", "3", "The zyzzyva")
    assert set(result) == {"prompt", "unknown", "seed", "samples"}
    assert result["prompt"] == "The zyzzyva" and result["unknown"] == ["zyzzyva"] and result["seed"] == 0
    vocabulary = load_run(either_run).vocabulary
    assert len(result["samples"]) == 3
    for sample in result["samples"]:
        assert set(sample) == {"text", "tokens", "words", "log_probability"}
        assert sample["tokens"] == sample["words"]  # a word run keeps the field's first name
        assert len(sample["words"]) == 7 and sample["text"] == " ".join(sample["words"])
        assert all(word in vocabulary and word != "<unk>" for word in sample["words"])
        assert sample["log_probability"] < 0


@pytest.mark.slow
def test_temperature_zero_writes_what_predict_words_writes(either_run, capsys):
    result = generated(capsys, either_run, "--temperature", "0", "--words", "6", "--samples", "2", "the bird")
    assert result["samples"][0] == result["samples"][1]
    assert predict.main(["--run", str(either_run), "--words", "6", "the bird"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == f"Prediction: the bird {result['samples'][0]['text']}"


@pytest.mark.slow
def test_text_output_is_the_prompt_and_the_first_sample_then_the_others(either_run, capsys):
    result = generated(capsys, either_run, "--seed", "5", "--words", "9", "--samples", "2", "Some of them")
    code, out, err = run_generate(capsys, "--run", str(either_run), "--seed", "5", "--words", "9", "--samples", "2",
                                  "Some of them")  # fmt: skip
    assert code == 0 and err == ""
    assert out.splitlines() == [f"Some of them {sample['text']}" for sample in result["samples"]]


@pytest.mark.slow
def test_stop_ends_a_sample_at_the_word(either_run, capsys):
    result = generated(capsys, either_run, "--seed", "1", "--words", "60", "--samples", "6", "--stop", "The",
                       "the cat")  # fmt: skip
    stopped = [sample["words"] for sample in result["samples"] if sample["words"][-1] == "the"]
    assert stopped, "with 60 words each, some sample writes 'the'"
    for words in (sample["words"] for sample in result["samples"]):
        assert "the" not in words[:-1] and (words[-1] == "the" or len(words) == 60)


@pytest.mark.slow
def test_an_empty_prompt_starts_a_text(either_run, capsys):
    greedy = generated(capsys, either_run, "--temperature", "0", "--words", "4", "")
    vocabulary = load_run(either_run).vocabulary
    commonest = max(range(1, len(vocabulary)), key=lambda i: vocabulary.counts[i])
    assert greedy["samples"][0]["words"][0] == vocabulary.tokens[commonest]
    assert len(greedy["samples"][0]["words"]) == 4
    assert len(generated(capsys, either_run, "--words", "5")["samples"][0]["words"]) == 5  # no TEXT at all
    code, out, _ = run_generate(capsys, "--run", str(either_run), "--seed", "2", "--words", "5")
    assert code == 0 and len(out.split()) == 5 and not out.startswith(" ")


@pytest.mark.slow
def test_a_huge_word_count_is_capped_with_one_line(trained_run, capsys):
    code, out, err = run_generate(capsys, "--run", str(trained_run), "--json", "--words", "50000", "--stop", "the",
                                  "--seed", "0", "cat")  # fmt: skip
    assert code == 0 and err == "warning: --words 50,000 is more than 10,000; using 10,000 words per sample\n"
    assert json.loads(out)["samples"][0]["words"][-1] == "the"


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["--temperature", "-0.5"], "--temperature"),
        (["--temperature", "nan"], "--temperature"),
        (["--top-k", "-1"], "--top-k"),
        (["--top-p", "0"], "--top-p"),
        (["--top-p", "1.5"], "--top-p"),
        (["--words", "0"], "--words"),
        (["--words", "inf"], "--words"),
        (["--samples", "0"], "--samples"),
        (["--seed", "-2"], "--seed"),
    ],
)
def test_bad_values_are_one_line_naming_the_flag(argv, flag, tmp_path, capsys):
    code, out, err = run_generate(capsys, "--logdir", str(tmp_path), *argv, "the cat")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"argument {flag}:" in err and "Traceback" not in err


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["two words", "zyzzyva", "!!"])
def test_a_stop_word_the_run_cannot_write_is_a_usage_error(trained_run, capsys, stop):
    code, out, err = run_generate(capsys, "--run", str(trained_run), "--stop", stop, "the cat")
    assert code == 2 and out == "" and err.count("\n") == 1 and "--stop" in err


def test_no_run_to_load_is_one_line(tmp_path, capsys):
    code, _, err = run_generate(capsys, "--logdir", str(tmp_path / "none"), "the cat")
    assert code == 1 and "no run found" in err and err.count("\n") == 1


@pytest.mark.slow
def test_a_reader_that_stops_reading_ends_it_quietly(trained_run):
    child = subprocess.Popen(
        [sys.executable, "-m", "word_predictor.generate", "--run", str(trained_run), "--words", "10000", "the cat"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert child.stdout.read(20).startswith(b"the cat ")  # words arrive as they are drawn
    child.stdout.close()  # as `generate ... | head -c 20` does
    assert child.wait(timeout=120) == 141  # 128 + SIGPIPE, as a shell reports a tool ended by a closed pipe
    assert child.stderr.read() == b""
