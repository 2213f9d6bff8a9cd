"""benchmarks/sweep.py and benchmarks/sweep_results.py: the winner rule on made-up rows, the
table, the hparams event files read back, bad input refused, and one tiny sweep end to end."""

from __future__ import annotations

import math

import pytest

from benchmarks import sweep, sweep_results
from benchmarks.sweep_results import DEFAULTS, choose_winner
from tests.helpers import TINY_TEXT, plugin_tags, values


def row(candidate, perplexity, top1, top3, keystrokes, flags=""):
    return {"candidate": candidate, "flags": flags, "perplexity": perplexity, "known_top1": top1,
            "known_top3": top3, "keystroke_savings": keystrokes}  # fmt: skip


def test_the_perplexity_winner_that_loses_keystrokes_is_not_the_winner():
    rows = [
        row(DEFAULTS, 100.0, 0.20, 0.35, 0.30),
        row("low perplexity", 80.0, 0.21, 0.36, 0.29),  # best perplexity, fewer keystrokes saved
        row("keyboard", 90.0, 0.22, 0.37, 0.31),
    ]
    assert choose_winner(rows) == "keyboard"
    sweep_results.mark(rows)
    marks = {r["candidate"]: r["marks"] for r in rows}
    assert "best perplexity" in marks["low perplexity"] and "winner" not in marks["low perplexity"]
    assert marks["keyboard"].startswith("**winner**") and "best keystrokes saved" in marks["keyboard"]


def test_today_s_defaults_stay_when_nothing_beats_them_on_every_figure():
    rows = [
        row(DEFAULTS, 100.0, 0.20, 0.35, 0.30),
        row("lower perplexity only", 70.0, 0.19, 0.36, 0.31),
        row("keyboard only", 110.0, 0.25, 0.40, 0.35),  # behind on perplexity
    ]
    assert choose_winner(rows) == DEFAULTS


def test_among_eligible_candidates_the_keyboard_figures_decide_before_perplexity():
    rows = [
        row(DEFAULTS, 100.0, 0.20, 0.35, 0.30),
        row("perplexity", 60.0, 0.21, 0.35, 0.30),
        row("keyboard", 95.0, 0.24, 0.39, 0.33),
        row("tie on keyboard, worse perplexity", 97.0, 0.24, 0.39, 0.33),
    ]
    assert choose_winner(rows) == "keyboard"


def test_without_today_s_defaults_there_is_nothing_to_judge_against():
    with pytest.raises(ValueError, match="defaults"):
        choose_winner([row("alone", 50.0, 0.3, 0.4, 0.5)])
    with pytest.raises(ValueError):
        choose_winner([{**row(DEFAULTS, 100.0, 0.2, 0.3, 0.3), "keystroke_savings": None}])


def test_medians_ratios_and_the_markdown_table():
    rounds = [{"perplexity": 90.0, "known_top1": 0.2, "known_top3": 0.3, "keystroke_savings": 0.25},
              {"perplexity": 110.0, "known_top1": 0.4, "known_top3": 0.5, "keystroke_savings": 0.35},
              {"error": "killed"}]  # fmt: skip
    median = sweep_results.medians(rounds)
    assert median["perplexity"] == 100.0 and median["known_top1"] == pytest.approx(0.3)
    assert median["rounds"] == 2 and median["failed"] == 1
    tied = row("tied", 80.0, 0.31, 0.41, 0.31, "--tie-weights")
    rows = [{"candidate": DEFAULTS, "flags": "", **median}, tied]
    sweep_results.add_ratios(rows)
    sweep_results.mark(rows)
    assert rows[1]["perplexity_ratio"] == pytest.approx(0.8)
    table = sweep_results.markdown(rows, {"perplexity": 120.0, "known_top1": 0.25, "known_top3": 0.3,
                                          "keystroke_savings": 0.2})  # fmt: skip
    lines = table.splitlines()
    assert lines[0].startswith("| candidate | flags | perplexity | x defaults | known top-1 | known top-3 |")
    assert lines[2].startswith(f"| {DEFAULTS} | (none) | 100.0 | 1.00 | 30.0% | 40.0% | 30.0% |")
    assert lines[3].startswith("| tied | `--tie-weights` | 80.0 | 0.80 | 31.0% | 41.0% | 31.0% |")
    assert "**winner**" in lines[3] and "**winner**" not in lines[2]
    assert lines[4].startswith("| Kneser-Ney trigram |  | 120.0 |  | 25.0% |")


def test_the_hparams_table_reads_back(tmp_path):
    tied = row("tied / regularised", 80.0, 0.3, 0.4, 0.35, "--tie-weights")
    rows = [row(DEFAULTS, 100.0, 0.2, 0.35, 0.3), tied]
    sweep_results.write_hparams(tmp_path, rows, {"corpus": "tiny", "time_limit_minutes": 0.5, "rounds": 1})
    assert "_hparams_/experiment" in plugin_tags(tmp_path, "hparams")
    session = tmp_path / "tied-regularised"
    assert "_hparams_/session_start_info" in plugin_tags(session, "hparams")
    assert values(session, "perplexity") == [(0, 80.0)]
    assert values(session, "keystroke_savings") == [(0, pytest.approx(0.35))]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--variant", "no equals sign"], "give a new name, '=', then train flags"),
        (["--variant", "defaults=--units 8"], "give a new name"),
        (["--variant", "quote=--flags 'open"], "No closing quotation"),
        (["--time-limit", "0"], "--time-limit must be above 0"),
        (["--rounds", "0"], "--rounds must be at least 1"),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(tmp_path, capsys, arguments, message):
    with pytest.raises(SystemExit) as exit:
        sweep.main([*arguments, "--logdir", str(tmp_path / "sweep"), "--no-save"])
    assert exit.value.code == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]


def test_a_corpus_that_is_not_there_is_refused(tmp_path):
    with pytest.raises(SystemExit) as exit:
        sweep.main(["--corpus", str(tmp_path / "missing"), "--logdir", str(tmp_path / "sweep"), "--no-save"])
    assert "no such file or folder" in str(exit.value.code)


@pytest.mark.slow
def test_a_tiny_sweep_trains_scores_and_writes_its_tables(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT * 20, encoding="utf-8")
    logdir = tmp_path / "sweep"
    tiny = "--units 8 --embedding-dim 4 --epochs 1 --batch-size 16 --unknown-threshold 1"
    code = sweep.main(["--corpus", str(corpus), "--time-limit", "0.5", "--flags", tiny,
                       "--logdir", str(logdir), "--candidates", "regularised",
                       "--variant", "gru=--cell gru", "--no-save"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    table = [line for line in out.splitlines() if line.startswith("| ")]
    names = [line.split(" | ")[0][2:] for line in table[1:]]
    assert names == [DEFAULTS, "regularised", "gru", "Kneser-Ney trigram"]
    assert sum("**winner**" in line for line in table) == 1
    for name in (DEFAULTS, "regularised", "gru"):
        session = logdir / "table" / name
        assert "_hparams_/session_start_info" in plugin_tags(session, "hparams")
        [(step, perplexity)] = values(session, "perplexity")
        assert math.isfinite(perplexity) and perplexity > 1
        shown = next(line for line in table if line.startswith(f"| {name} |")).split(" | ")[2]
        assert shown == f"{perplexity:.1f}"
    assert (logdir / "runs" / "gru-round0" / "model.keras").is_file()
