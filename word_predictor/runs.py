"""python -m word_predictor.runs: the runs under a logdir, newest first, with their
settings and final figures: a terminal twin of TensorBoard's HParams dashboard.

Reads only each run's config.json, status.json and metrics.json (and, for a run
still training, checkpoint/state.json; for a complete one, runtime/manifest.json to
say which engine answers for it), so it loads no model.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from word_predictor import backend, cli, engines, folder_files, rundir
from word_predictor.batches.kinds import kind_of
from word_predictor.config import Config, facts_from, load_config, unused_settings
from word_predictor.errors import UserError
from word_predictor.scoring.figures import perplexity
from word_predictor.training.origin import recorded_origin

PROG = "python -m word_predictor.runs"
# (heading, key of a row, how to show it); numbers are right-aligned.
COLUMNS = (
    ("run", "name", str),
    ("state", "state", str),
    ("level", "level", str),
    ("context", "context", str),
    ("cell", "cell_shown", str),
    ("layers", "layers", str),
    ("units", "units", str),
    ("input", "input", str),
    ("length", "length", str),  # window size, or bptt for a full-context run
    ("vocab", "vocabulary_size", lambda n: f"{n:,}"),
    ("epochs", "epochs_shown", str),
    # What a user sees first (test split); then perplexity, beside the share of unknown
    # test targets, since a run that knows fewer words scores a lower one.
    ("keys saved", "test_keystroke_savings", lambda x: f"{x:.1%}"),
    ("top-3", "test_top3", lambda x: f"{x:.1%}"),
    ("test ppl", "test_perplexity", lambda x: f"{x:.2f}"),
    ("unknown", "test_unknown_rate", lambda x: f"{x:.1%}"),
    ("val ppl", "best_validation_perplexity", lambda x: f"{x:.2f}"),
    ("top-1", "test_top1", lambda x: f"{x:.1%}"),
    ("top-5", "test_top5", lambda x: f"{x:.1%}"),
    ("optimiser", "optimiser_shown", str),
    ("regularisation", "regularisation_shown", str),
    ("engine", "engine", str),  # what predict, evaluate, serve answer with (word_predictor.engines)
    ("from", "from_shown", str),  # the trained run a run began from (train --from), by its folder's name
)
_LEFT_ALIGNED = {"run", "state", "level", "context", "cell", "input", "optimiser", "regularisation", "from"}
# The regularisation settings (Config's block of them), each shown when set, as a short word.
REGULARISATION_SHOWN = {
    "locked_dropout": lambda value: "locked",
    "weight_drop": lambda value: f"weight-drop {value:g}",
    "embedding_dropout": lambda value: f"embedding-dropout {value:g}",
    "activation_regularisation": lambda value: f"AR {value:g}",
    "temporal_activation_regularisation": lambda value: f"TAR {value:g}",
}
REGULARISATION_KEYS = (*REGULARISATION_SHOWN, "optimizer", "weight_averaging", "lr_patience")


def build_parser() -> argparse.ArgumentParser:
    parser = cli.Parser(
        prog=PROG,
        description="List the training runs under --logdir, newest first, with their settings and "
        "final figures (keystrokes saved and top-3 accuracy on the test split, test perplexity beside the share "
        "of unknown test words, best validation perplexity, top-1/top-5 accuracy).",
    )
    parser.add_argument(
        "--logdir", type=Path, default=Path("logs"), help="folder that holds the runs (default: logs)"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list of runs instead of a table")
    # Listing runs loads no model, so the backend is only checked, for one set of flags across commands.
    backend.add_backend_argument(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run_cli("word_predictor.runs", lambda: _list(args))


def _list(args: argparse.Namespace) -> int:
    if not args.logdir.is_dir():
        raise UserError(f"no folder {args.logdir}; pass --logdir FOLDER, the --logdir you trained with")
    rows = [describe(run_dir) for run_dir in rundir.list_runs(args.logdir)]
    if args.json:
        print(json.dumps([{k: _finite(v) for k, v in row.items()} for row in rows], indent=2))
    elif not rows:
        hint = f"python -m word_predictor.train --logdir {args.logdir}"
        print(f"no runs under {args.logdir} yet; train one with {hint}")
    else:
        print(format_table(rows))
    return 0


def describe(run_dir: Path) -> dict:
    """One run as plain values (None where a figure is not known yet)."""
    status = rundir.read_status(run_dir)
    config, data = _config(run_dir / rundir.CONFIG_FILE)
    metrics = _checked(run_dir / rundir.METRICS_FILE, folder_files.MetricsFile)
    state = "complete" if status.get("complete") is True else "incomplete"
    if config is None:
        state = "unreadable"  # no config.json, or a damaged one
    best_loss = metrics.get("best_validation_loss")
    if best_loss is None:  # still training or interrupted: the resume checkpoint knows
        best_loss = _checked(run_dir / rundir.CHECKPOINT_DIR / rundir.CHECKPOINT_STATE,
                             folder_files.CheckpointState).get("best_val_loss")  # fmt: skip
    test = metrics.get("test") or {}
    # None where a setting is unknown, or one the run does not use (as 0 on the HParams dashboard)
    settings = {} if config is None else {k: v for k, v in config.to_dict().items() if k not in unused_settings(config)}
    return {
        "name": run_dir.name,
        "path": str(run_dir),
        "state": state,
        "started": status.get("started"),
        "finished": status.get("finished"),
        "stopped": metrics.get("stopped") or status.get("stopped"),
        **{name: settings.get(name) for name in ("level", "context", "cell", "bidirectional", "layers", "units",
                                                 "one_hot", "embedding_dim", "window_size", "bptt",
                                                 *REGULARISATION_KEYS)},  # fmt: skip
        "length": None if config is None else settings.get(kind_of(config).length_setting),
        "vocabulary_size": None if config is None else facts_from(data).vocabulary_size or None,
        "epochs_completed": metrics.get("epochs_completed", status.get("epochs_completed", 0)),
        "epochs": settings.get("epochs"),
        "best_validation_perplexity": _perplexity(best_loss),
        "test_perplexity": test.get("perplexity"),
        "test_top1": test.get("top1"),
        "test_top5": test.get("top5"),
        "test_top3": test.get("top3"),
        "test_keystroke_savings": test.get("keystroke_savings"),
        "test_unknown_rate": test.get("unknown_rate"),
        "engine": engines.engine_for(run_dir) if state == "complete" else None,
        "from_run": _origin_path(data),
    }


def _config(path: Path) -> tuple[Config | None, dict]:
    """The run's settings as every command reads them (load_config: schema, hash, values), with
    the file's data; (None, {}) if they cannot be read."""
    try:
        return load_config(path)
    except (OSError, ValueError):
        return None, {}


def _origin_path(data: dict) -> str | None:
    """The trained run a run began from (train --from); None if none, or not readable."""
    try:
        return (recorded_origin(data) or {}).get("path")
    except ValueError:
        return None


def _checked(path: Path, schema) -> dict:
    """A file with a schema (folder_files) as a dict; {} if it is missing or not of that schema."""
    try:
        return folder_files.read(path, schema).model_dump(exclude_unset=True)
    except (OSError, ValueError):
        return {}


def format_table(rows: list[dict]) -> str:
    """Aligned columns, one line per run; "-" where a value is not known."""
    shown = [[heading for heading, _, _ in COLUMNS]]
    for row in rows:
        epochs = f"{row['epochs_completed']}/{row['epochs'] or '?'}"
        derived = {"cell_shown": None, "input": None, "epochs_shown": epochs,
                   "from_shown": row["from_run"] and Path(row["from_run"]).name}  # fmt: skip
        if row["cell"] is not None:
            derived["cell_shown"] = row["cell"] + ("+bi" if row["bidirectional"] else "")
        if row["one_hot"] is not None:
            derived["input"] = "one-hot" if row["one_hot"] else f"embedding {row['embedding_dim']}"
        derived.update(_regularisation_shown(row))
        values = {**row, **derived}
        shown.append(["-" if values[key] is None else _escaped(form(values[key])) for _, key, form in COLUMNS])
    widths = [max(len(line[i]) for line in shown) for i in range(len(COLUMNS))]
    lines = []
    for line in shown:
        padded = [
            text.ljust(width) if heading in _LEFT_ALIGNED else text.rjust(width)
            for text, width, (heading, _, _) in zip(line, widths, COLUMNS)
        ]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def _regularisation_shown(row: dict) -> dict:
    """The optimiser (and its averaging) and the regularisers set, for their two columns."""
    if row.get("optimizer") is None:
        return {"optimiser_shown": None, "regularisation_shown": None}
    shown = [form(row[name]) for name, form in REGULARISATION_SHOWN.items() if row.get(name)]
    return {"optimiser_shown": row["optimizer"] + (" averaged" if row.get("weight_averaging") else ""),
            "regularisation_shown": ", ".join(shown) or "none"}  # fmt: skip


def _escaped(text: str) -> str:
    """A value on one table line: control characters (a newline in a run name) as escapes."""
    return "".join(repr(c)[1:-1] if not c.isprintable() else c for c in text)


def _perplexity(loss) -> float | None:
    """None for a loss that is missing or not a finite number (nothing to show)."""
    if not isinstance(loss, (int, float)) or not math.isfinite(loss):
        return None
    return perplexity(loss)


def _finite(value):
    """JSON has no infinity or NaN: a figure that is not a number becomes null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


if __name__ == "__main__":
    sys.exit(main())
