import json

import pytest

from word_predictor import predict
from word_predictor.rundir import load_run

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
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("Prediction: the cat ") and len(last.split()) == 6


def test_empty_text_is_a_usage_error(capsys, tmp_path):
    assert predict.main(["--logdir", str(tmp_path), "   "]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_no_run_to_load_is_one_line(capsys, tmp_path):
    assert predict.main(["--logdir", str(tmp_path / "none"), "hello"]) == 1
    err = capsys.readouterr().err
    assert "no run found" in err and err.count("\n") == 1
