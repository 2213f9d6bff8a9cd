"""python -m word_predictor.runs: the HParams dashboard's terminal twin."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import help_beside_each_flag
from word_predictor import folder_files, rundir, runs, train
from word_predictor.config import Config, CorpusFacts, config_json

REPOSITORY = Path(__file__).resolve().parents[1]


def fake_run(logdir: Path, name: str, *, started: float, complete: bool = True, **settings) -> Path:
    """A run folder as train writes it, without training: config, status and figures."""
    run_dir = logdir / name
    run_dir.mkdir(parents=True)
    config = Config(units=8, embedding_dim=4, epochs=5, **settings)
    (run_dir / rundir.CONFIG_FILE).write_text(config_json(config, CorpusFacts(vocabulary_size=21), command_line=train.PROG))
    status = {"complete": complete, "started": started, "epochs_completed": 3}
    if complete:  # as a finished training writes it
        status.update(finished=started + 1, model_sha256="0" * 64)
    rundir.write_json(run_dir / rundir.STATUS_FILE, status)
    if complete:
        test = {"loss": 2.0, "perplexity": math.exp(2.0), "top1": 0.224, "top3": 0.512, "top5": 0.7041,
                "keystroke_savings": 0.4437, "unknown_rate": 0.121}
        metrics = {"best_epoch": 2, "epochs_completed": 3, "best_validation_loss": 2.5, "stopped": None}
        rundir.write_json(run_dir / rundir.METRICS_FILE, {**metrics, "test": test})
    return run_dir


def table(capsys, *argv: str) -> list[list[str]]:
    assert runs.main(list(argv)) == 0
    return [re.split(r"\s{2,}", line.strip()) for line in capsys.readouterr().out.splitlines()]


def test_table_lists_runs_newest_first_with_settings_and_figures(tmp_path, capsys):
    fake_run(tmp_path, "old-lstm", started=100.0)
    fake_run(tmp_path, "new-bi-gru", started=300.0, cell="gru", bidirectional=True, targets="last",
             one_hot=True)  # fmt: skip
    fake_run(tmp_path, "middle-rnn", started=200.0, cell="simple_rnn", layers=2, level="char", context="full",
             bptt=100)  # fmt: skip
    (tmp_path / "not-a-run").mkdir()  # no status.json: not listed
    header, *rows = table(capsys, "--logdir", str(tmp_path))
    assert header == ["run", "state", "level", "context", "cell", "layers", "units", "input", "length", "vocab",
                      "epochs", "keys saved", "top-3", "test ppl", "unknown", "val ppl", "top-1", "top-5", "optimiser",
                      "regularisation", "engine", "from"]  # fmt: skip
    assert [row[0] for row in rows] == ["new-bi-gru", "middle-rnn", "old-lstm"]
    new, middle, old = rows
    assert new[1:8] == ["complete", "word", "window", "gru+bi", "1", "8", "one-hot"]
    assert middle[2:6] == ["char", "full", "simple_rnn", "2"] and middle[8] == "100"  # the bptt
    assert old[1:] == ["complete", "word", "window", "lstm", "1", "8", "embedding 4", "5", "21", "3/5", "44.4%",
                       "51.2%", f"{math.exp(2.0):.2f}", "12.1%", f"{math.exp(2.5):.2f}", "22.4%", "70.4%", "adam",
                       "none", "-", "-"]  # fmt: skip


def test_incomplete_run_shows_its_progress_from_the_checkpoint(tmp_path, capsys):
    run_dir = fake_run(tmp_path, "training", started=1.0, complete=False)
    (run_dir / rundir.CHECKPOINT_DIR).mkdir()
    rundir.write_json(run_dir / rundir.CHECKPOINT_DIR / rundir.CHECKPOINT_STATE, {"epochs_completed": 3, "best_val_loss": 3.0})
    _, row = table(capsys, "--logdir", str(tmp_path))
    assert row[1] == "incomplete" and row[10] == "3/5"
    assert row[11:18] == ["-", "-", "-", "-", f"{math.exp(3.0):.2f}", "-", "-"]  # no test figures before the end


def test_json_has_one_object_per_run_with_null_for_unknown_figures(tmp_path, capsys):
    fake_run(tmp_path, "done", started=2.0, one_hot=True)
    fake_run(tmp_path, "interrupted", started=1.0, complete=False)
    assert runs.main(["--logdir", str(tmp_path), "--json"]) == 0
    done, interrupted = json.loads(capsys.readouterr().out)
    assert done["name"] == "done" and done["state"] == "complete" and done["started"] == 2.0
    assert done["one_hot"] is True and done["embedding_dim"] is None
    assert done["best_validation_perplexity"] == pytest.approx(math.exp(2.5))
    assert done["test_top5"] == pytest.approx(0.7041) and done["epochs_completed"] == 3
    assert (done["test_keystroke_savings"], done["test_top3"], done["test_unknown_rate"]) == (0.4437, 0.512, 0.121)
    assert interrupted["test_unknown_rate"] is None and interrupted["test_keystroke_savings"] is None
    assert interrupted["state"] == "incomplete" and interrupted["epochs_completed"] == 3
    assert interrupted["test_perplexity"] is None and interrupted["best_validation_perplexity"] is None


def test_an_infinite_perplexity_is_null_in_json(tmp_path, capsys):
    run_dir = fake_run(tmp_path, "diverged", started=1.0)
    metrics = folder_files.read_json(run_dir / rundir.METRICS_FILE)
    metrics["test"]["perplexity"] = math.inf  # evaluate's figure for a loss beyond exp's range
    rundir.write_json(run_dir / rundir.METRICS_FILE, metrics)
    assert runs.main(["--logdir", str(tmp_path), "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)  # strict JSON: no Infinity
    assert row["test_perplexity"] is None


def test_a_damaged_run_is_listed_not_fatal(tmp_path, capsys):
    fake_run(tmp_path, "fine", started=2.0)
    broken = fake_run(tmp_path, "broken", started=1.0)
    (broken / rundir.CONFIG_FILE).write_text("{ not json")
    _, fine, damaged = table(capsys, "--logdir", str(tmp_path))
    assert fine[:2] == ["fine", "complete"]
    assert damaged[:3] == ["broken", "unreadable", "-"]


def test_no_runs_is_one_line_with_a_hint(tmp_path, capsys):
    assert runs.main(["--logdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "no runs under" in out and "python -m word_predictor.train" in out
    assert runs.main(["--logdir", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_missing_logdir_is_one_line_and_exit_1(tmp_path, capsys):
    assert runs.main(["--logdir", str(tmp_path / "nowhere")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("word_predictor.runs: error: ") and captured.err.count("\n") == 1


def test_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_:
        runs.main(["--help"])
    assert exit_.value.code == 0
    shown = help_beside_each_flag(runs.build_parser(), capsys.readouterr().out)
    assert {"--logdir", "--json"} <= set(shown)
    for flag, (help_text, printed) in shown.items():
        assert help_text and help_text in printed, f"{flag}: its help is not printed beside it"


@pytest.mark.slow
def test_lists_real_runs_as_the_module_command(monitored_logdir):
    result = subprocess.run(
        [sys.executable, "-m", "word_predictor.runs", "--logdir", str(monitored_logdir), "--json"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    bi, gru = json.loads(result.stdout)  # "bi" was trained second: newest first
    metrics = folder_files.read_json(monitored_logdir / "gru" / rundir.METRICS_FILE)
    assert (bi["name"], bi["cell"], bi["bidirectional"], bi["one_hot"]) == ("bi", "simple_rnn", True, True)
    assert (gru["name"], gru["cell"], gru["units"], gru["embedding_dim"]) == ("gru", "gru", 8, 4)
    assert gru["state"] == "complete" and gru["epochs_completed"] == metrics["epochs_completed"] == 2
    assert gru["best_validation_perplexity"] == pytest.approx(math.exp(metrics["best_validation_loss"]))
    assert gru["test_perplexity"] == pytest.approx(metrics["test"]["perplexity"])
    assert gru["test_top1"] == pytest.approx(metrics["test"]["top1"])
    assert gru["test_unknown_rate"] == pytest.approx(metrics["test"]["unknown_rate"])
    assert gru["test_keystroke_savings"] == pytest.approx(metrics["test"]["keystroke_savings"])


def test_a_metrics_file_of_the_wrong_types_shows_no_figures_rather_than_failing(tmp_path, capsys):
    run_dir = fake_run(tmp_path, "odd", started=1.0)
    rundir.write_json(run_dir / rundir.METRICS_FILE, {"best_validation_loss": 2.5, "test": {"perplexity": "high"}})
    _, row = table(capsys, "--logdir", str(tmp_path))
    assert row[0] == "odd" and row[11:15] == ["-", "-", "-", "-"]
