"""--context full through the commands: train -> predict -> evaluate -> resume, what the
model reads, and the settings refused before anything is written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import TINY_TEXT, train_tiny
from word_predictor import scoring
from word_predictor import evaluate, predict, rundir, train
from word_predictor.training.run_corpus import corpus_for
from word_predictor.training.checkpoint import read_state
from word_predictor.predictor.predictor import Predictor

REPO = Path(__file__).resolve().parents[1]
FULL = ["--context", "full", "--bptt", "6", "--batch-size", "4"]

# Kill the trainer the moment epoch 1's checkpoint is complete: the resume must
# start at epoch 2 and log every epoch once.
KILL_AFTER_FIRST_EPOCH = """
import os, signal, sys
from word_predictor import rundir, train

real = rundir.write_status

def write_status(run_dir, **fields):
    real(run_dir, **fields)
    if fields.get("epochs_completed") == 1 and "complete" not in fields:
        os.kill(os.getpid(), signal.SIGKILL)

rundir.write_status = write_status
sys.exit(train.main(sys.argv[1:]))
"""


def one_line(err: str, command: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"word_predictor.{command}: error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("full") / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text(TINY_TEXT * 25, encoding="utf-8")
    return folder


@pytest.mark.slow
@pytest.mark.backend
def test_train_kill_resume_predict_evaluate(corpus, tmp_path, capsys):
    logdir = tmp_path / "logs"
    run = logdir / "full"
    argv = ["--corpus", str(corpus), "--logdir", str(logdir), "--run-name", "full", "--units", "8",
            "--embedding-dim", "4", "--epochs", "3", "--unknown-threshold", "1", "--patience", "9", *FULL]  # fmt: skip
    killed = subprocess.run([sys.executable, "-c", KILL_AFTER_FIRST_EPOCH, *argv], cwd=REPO, capture_output=True,
                            text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert read_state(run)["epochs_completed"] == 1 and not rundir.is_complete(run)

    assert train.main(["--resume", str(run)]) == 0
    out = capsys.readouterr().out
    assert f"resuming {run} after epoch 1" in out and "Epoch 1/3" not in out and "Epoch 2/3" in out
    assert rundir.is_complete(run) and read_state(run)["epochs_completed"] == 3
    config = json.loads((run / "config.json").read_text())["settings"]
    assert config["context"] == "full" and config["bptt"] == 6 and config["batch_size"] == 4

    assert predict.main(["--run", str(run), "--json", "the cat sat on the"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert len(answer["predictions"]) == 5 and answer["context"] == "the cat sat on the".split()

    assert evaluate.main(["--run", str(run), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    recorded = json.loads((run / "metrics.json").read_text())["test"]
    # every word of each test segment but its first is a target, read with all the text before it
    test = rundir.read_test_split(run)
    assert scores["tokens"] == recorded["tokens"] == test.token_count - len(test.bounds)
    assert scores["perplexity"] == pytest.approx(recorded["perplexity"], rel=1e-4)


@pytest.mark.slow
def test_a_word_thirty_back_changes_a_full_context_prediction_only(corpus, tmp_path):
    for name, flags in (("window", []), ("full", FULL)):
        assert train_tiny(corpus, tmp_path / "logs", "--run-name", name, "--epochs", "1", *flags) == 0
    words = TINY_TEXT.split()[:40]
    changed = list(words)
    changed[-30] = "dog" if changed[-30] != "dog" else "cat"

    def probabilities(name, text):
        predictor = Predictor.from_run(rundir.load_run(tmp_path / "logs" / name))
        return np.array([p for _, p in sorted(predictor.suggest(" ".join(text), top_k=50).predictions)])

    np.testing.assert_array_equal(probabilities("window", words), probabilities("window", changed))
    assert not np.allclose(probabilities("full", words), probabilities("full", changed), rtol=0, atol=1e-7)


@pytest.mark.parametrize(
    "flags, message",
    [(["--bptt", "100000"], "longer than the training split"),
     (["--tie-weights", "--one-hot"], "one-hot"),
     (["--bidirectional"], "bidirectional")],  # fmt: skip
)
def test_settings_that_cannot_work_exit_2_and_write_nothing(corpus, tmp_path, capsys, flags, message):
    logdir = tmp_path / "logs"
    assert train.main(["--corpus", str(corpus), "--logdir", str(logdir), "--context", "full", *flags]) == 2
    import re

    assert re.search(message, one_line(capsys.readouterr().err, "train"))
    assert not [p for p in logdir.glob("*") if not p.name.startswith(".")] if logdir.exists() else True


def test_a_bptt_below_1_is_refused_while_parsing(corpus, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        train.main(["--corpus", str(corpus), "--logdir", str(tmp_path / "logs"), "--context", "full", "--bptt", "0"])
    assert exit_.value.code == 2
    assert "argument --bptt: must be a whole number of at least 1" in capsys.readouterr().err
    assert not (tmp_path / "logs").exists()


@pytest.mark.backend
def test_validation_while_training_is_scored_as_evaluate_scores_a_text(corpus, tmp_path):
    assert train_tiny(corpus, tmp_path / "logs", "--run-name", "v", "--epochs", "1", *FULL) == 0
    run = rundir.load_run(tmp_path / "logs" / "v")
    validation = corpus_for(run.config).splits["validation"]
    scores = scoring.score(Predictor.from_run(run).reader, validation)
    assert scores["tokens"] == validation.token_count - len(validation.bounds)
    logged = json.loads((tmp_path / "logs" / "v" / "metrics.json").read_text())["best_validation_loss"]
    assert logged == pytest.approx(scores["loss"], rel=1e-5)
