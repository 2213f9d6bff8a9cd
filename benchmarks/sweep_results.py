"""What benchmarks.sweep makes of its runs: medians over rounds, ratios to today's
defaults, the winner rule, the Markdown table and the TensorBoard hparams table.

The winner is chosen on what a keyboard user sees as well as on perplexity:

    eligible  = candidates ahead of today's defaults on perplexity (lower) AND not behind
                them on any keyboard figure (known top-1, known top-3, keystrokes saved)
    winner    = the eligible candidate with the best mean rank over the keyboard figures,
                ties broken by perplexity; none eligible: today's defaults stay

So a candidate that wins on perplexity but loses keystrokes to today's defaults is not
the winner, however low its perplexity.
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path

from tensorboard.plugins.hparams import summary_v2 as hp

from word_predictor.monitoring.writer import EventWriter

DEFAULTS = "defaults"
KEYBOARD = ("known_top1", "known_top3", "keystroke_savings")  # higher is better
FIGURES = ("perplexity", *KEYBOARD, "top1", "top3")
TIMES = ("train_seconds", "epochs_run", "best_epoch")
HEADERS = {
    "perplexity": "perplexity", "perplexity_ratio": "x defaults",
    "known_top1": "known top-1", "known_top3": "known top-3", "keystroke_savings": "keystrokes saved",
    "train_seconds": "train s", "epochs_run": "epochs", "marks": "marks",
}  # fmt: skip


def medians(rounds: list[dict]) -> dict:
    """One candidate's rounds (dicts of figures; failed rounds carry "error") -> its medians."""
    done = [row for row in rounds if "error" not in row]
    result = {"rounds": len(done), "failed": len(rounds) - len(done)}
    for key in (*FIGURES, *TIMES):
        present = [row[key] for row in done if row.get(key) is not None]
        if present:
            result[key] = float(statistics.median(present))
    return result


def add_ratios(rows: list[dict]) -> None:
    """Each row's figure over today's defaults' (same invocation), as `KEY_ratio`."""
    baseline = next((row for row in rows if row["candidate"] == DEFAULTS), None)
    if baseline is None:
        return
    for row in rows:
        for key in ("perplexity", *KEYBOARD):
            if row.get(key) is not None and baseline.get(key):
                row[f"{key}_ratio"] = row[key] / baseline[key]


def _keyboard_rank(rows: list[dict]) -> dict[str, float]:
    """Candidate -> its mean rank (0: best) over the keyboard figures."""
    ranks = {row["candidate"]: 0.0 for row in rows}
    for key in KEYBOARD:
        ordered = sorted(rows, key=lambda row: -row[key])
        for place, row in enumerate(ordered):
            ranks[row["candidate"]] += place / len(KEYBOARD)
    return ranks


def choose_winner(rows: list[dict]) -> str:
    """The candidate to make the default (see the module's docstring); rows need
    "candidate", "perplexity" and the KEYBOARD figures; DEFAULTS must be among them."""
    scored = [row for row in rows if all(row.get(key) is not None for key in ("perplexity", *KEYBOARD))]
    baseline = next((row for row in scored if row["candidate"] == DEFAULTS), None)
    if baseline is None:
        raise ValueError("today's defaults have no figures, so no candidate can be judged against them")
    eligible = [
        row for row in scored
        if row is baseline or (row["perplexity"] < baseline["perplexity"]
                               and all(row[key] >= baseline[key] for key in KEYBOARD))
    ]  # fmt: skip
    ranks = _keyboard_rank(eligible)
    return min(eligible, key=lambda row: (ranks[row["candidate"]], row["perplexity"]))["candidate"]


def mark(rows: list[dict]) -> None:
    """A "marks" cell per row: the winner, and the best on each figure."""
    scored = [row for row in rows if row.get("perplexity") is not None]
    notes: dict[str, list[str]] = {row["candidate"]: [] for row in rows}
    try:
        notes[choose_winner(scored)].append("**winner**")
    except ValueError:  # today's defaults failed: nothing to judge against, no winner marked
        pass
    if scored:
        notes[min(scored, key=lambda row: row["perplexity"])["candidate"]].append("best perplexity")
    for key in KEYBOARD:
        present = [row for row in scored if row.get(key) is not None]
        if present:
            notes[max(present, key=lambda row: row[key])["candidate"]].append(f"best {HEADERS[key]}")
    for row in rows:
        row["marks"] = ", ".join(notes[row["candidate"]])


def markdown(rows: list[dict], yardstick: dict | None) -> str:
    """The table for the docs: one line per candidate (medians), the trigram below."""
    columns = ["candidate", "flags", *HEADERS]
    lines = ["| " + " | ".join(HEADERS.get(c, c) for c in columns) + " |", "|" + "---|" * len(columns)]
    for row in [*rows, *([{"candidate": "Kneser-Ney trigram", **yardstick}] if yardstick else [])]:
        lines.append("| " + " | ".join(_cell(column, row) for column in columns) + " |")
    return "\n".join(lines)


def _cell(column: str, row: dict) -> str:
    value = row.get(column)
    if value is None:
        return "failed" if column == "perplexity" and row.get("failed") else ""
    if column == "flags":
        return f"`{value}`" if value else "(none)"
    if column in KEYBOARD:
        return f"{100 * value:.1f}%"
    if column.endswith("_ratio"):
        return f"{value:.2f}"
    if isinstance(value, float):
        return f"{value:.1f}" if column == "perplexity" else f"{value:.0f}"
    return str(value)


def slug(name: str) -> str:
    """A candidate's name as a folder name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "candidate"


def write_hparams(folder: Path, rows: list[dict], setup: dict) -> None:
    """TensorBoard's HParams dashboard: one session per candidate in FOLDER/CANDIDATE,
    its hparams (name, flags and the sweep's `setup`) and its medians as metrics."""
    metrics = [*FIGURES, "perplexity_ratio", "train_seconds"]
    domains = {"candidate": [row["candidate"] for row in rows]}
    domains["flags"] = sorted({row["flags"] for row in rows})
    domains.update({key: [value] for key, value in setup.items()})
    with EventWriter(folder) as writer:
        config = hp.hparams_config_pb(
            hparams=[hp.HParam(name, hp.Discrete(values)) for name, values in domains.items()],
            metrics=[hp.Metric(key) for key in metrics],
        )
        writer.summary(config, step=0)
    for row in rows:
        with EventWriter(Path(folder) / slug(row["candidate"])) as writer:
            values = {"candidate": row["candidate"], "flags": row["flags"], **setup}
            writer.summary(hp.hparams_pb(values, trial_id=row["candidate"]), step=0)
            for key in metrics:
                if row.get(key) is not None:
                    writer.scalar(key, row[key], step=0)
