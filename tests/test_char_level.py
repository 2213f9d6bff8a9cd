"""--level char through the commands: a token is one character, read as the running text."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import tiny_run
from word_predictor import evaluate, generate, predict, rundir, runs, train
from word_predictor.model.layers import OUTPUT_LAYER
from word_predictor.predictor.predictor import Predictor
from word_predictor.training.finish import write_runtime

TEXT = "To be, or not to be: that is the Question.\nWhether 'tis nobler in the mind to suffer 42 slings!\n"


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> Path:
    """A character run and a word run side by side in one logdir."""
    char = ["--level", "char", "--bptt", "20", "--batch-size", "4"]
    tiny_run(tmp_path_factory, *char, name="char", logdir="char", text=TEXT * 30)
    return tiny_run(tmp_path_factory, name="word", logdir="char", text=TEXT * 30).parent


@pytest.mark.slow
def test_a_char_run_records_its_level_and_reads_the_full_context(logdir):
    settings = json.loads((logdir / "char" / "config.json").read_text())["settings"]
    assert settings["level"] == "char" and settings["context"] == "full" and settings["bptt"] == 20
    vocabulary = json.loads((logdir / "char" / "vocabulary.json").read_text())
    assert vocabulary["level"] == "char"
    # case, digits, punctuation and line breaks are tokens of their own
    assert {"T", "Q", "4", "2", ",", ":", "!", "\n", " "} <= set(vocabulary["tokens"])
    # the token store is keyed by level: the two runs did not share one
    assert len(list((logdir / ".cache").glob("tokens-*.int32"))) == 2


@pytest.mark.slow
def test_generate_writes_characters_and_refuses_words(logdir, capsys):
    assert generate.main(["--run", str(logdir / "char"), "--chars", "40", "--seed", "1", "--json", "To be"]) == 0
    sample = json.loads(capsys.readouterr().out)["samples"][0]
    assert len(sample["tokens"]) == 40 and all(len(token) == 1 for token in sample["tokens"])
    assert sample["text"] == "".join(sample["tokens"])  # characters join with nothing between them
    assert "words" not in sample  # a character run writes characters, not words
    assert generate.main(["--run", str(logdir / "char"), "--words", "5", "To be"]) == 2
    assert "use --chars N" in capsys.readouterr().err
    assert generate.main(["--run", str(logdir / "word"), "--chars", "5", "to be"]) == 2
    assert "use --words N" in capsys.readouterr().err


@pytest.mark.slow
def test_predict_shows_next_characters_and_the_word_being_typed(logdir, capsys, tmp_path):
    assert predict.main(["--run", str(logdir / "char"), "--json", "To b"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert all(len(p["word"]) == 1 for p in answer["predictions"])
    # The Word: line is the likeliest end of the word being typed (Predictor.complete's beam
    # over characters). The tiny model may well end every word at once (a space is the
    # likeliest character); a copy of it biased towards "e" never does, so it always shows one.
    leaning = lean_towards(logdir / "char", "e", tmp_path)
    for run, text in [(logdir / "char", "whether 'tis nob"), (logdir / "char", "To b"), (leaning, "whether 'tis nob")]:
        typing = Predictor.from_run(rundir.load_run(run)).complete(text, 1)
        assert predict.main(["--run", str(run), text]) == 0
        out = capsys.readouterr().out
        assert f"Prediction: {text}" in out
        word_lines = [line for line in out.splitlines() if line.startswith("Word: ")]
        expected = [f"Word: {typing.completions[0][0]}"] if typing.prefix and typing.completions else []
        assert word_lines == expected, (text, out)
    assert typing.prefix == "nob" and word_lines and word_lines[0].startswith("Word: nobe")  # the leaning copy


def lean_towards(run: Path, character: str, tmp_path: Path) -> Path:
    """A copy of `run` whose output layer favours `character` above everything, whatever came before."""
    copy = Path(shutil.copytree(run, tmp_path / "leaning"))
    loaded = rundir.load_run(copy)
    output = loaded.model.get_layer(OUTPUT_LAYER)
    bias = np.asarray(output.bias)
    bias[loaded.vocabulary.tokens.index(character)] += 100.0
    output.bias.assign(bias)
    rundir.save_model_atomic(loaded.model, copy / rundir.MODEL_FILE)
    # A finished training's end: the new model's ONNX copy, then its hash and the model's
    rundir.write_status(copy, runtime_sha256=write_runtime(copy, loaded.config, loaded.vocabulary, loaded.model))
    rundir.mark_complete(copy)
    return copy


@pytest.mark.slow
def test_evaluate_reports_bits_per_character(logdir, capsys):
    assert evaluate.main(["--run", str(logdir / "char"), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["bits_per_character"] == pytest.approx(math.log2(scores["perplexity"]), rel=1e-6)
    assert "keystroke_savings" not in scores  # a keyboard suggests words, not characters
    assert evaluate.main(["--run", str(logdir / "char")]) == 0
    assert "bits per character:" in capsys.readouterr().out
    assert evaluate.main(["--run", str(logdir / "word"), "--json"]) == 0
    assert "bits_per_word" in json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_runs_shows_the_level(logdir, capsys):
    assert runs.main(["--logdir", str(logdir), "--json"]) == 0
    levels = {row["name"]: (row["level"], row["context"]) for row in json.loads(capsys.readouterr().out)}
    assert levels == {"char": ("char", "full"), "word": ("word", "window")}
    assert rundir.is_complete(logdir / "char")


def test_word_only_flags_are_refused_on_a_char_run(tmp_path, capsys):
    argv = ["--level", "char", "--normalisation", "ascii", "--logdir", str(tmp_path / "logs")]
    assert train.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--normalisation is for words" in err[0]
    assert not (tmp_path / "logs").exists()
