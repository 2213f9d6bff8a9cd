"""Event files read back and truncated before a resume.
"""

from __future__ import annotations

import pytest

from tests.helpers import values
from word_predictor import monitoring
from word_predictor.monitoring.events import read_records
from word_predictor.monitoring.writer import EventWriter


pytestmark = pytest.mark.backend


# --- the runs TensorBoard lists, and resuming ----------------------------------------------


@pytest.mark.slow
def test_runs_tensorboard_lists(trained_run):
    from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer

    multiplexer = EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(trained_run.parent))
    multiplexer.Reload()
    names = {f"tiny/{part}" for part in ("train", "validation", "test", "samples", "projector")} | {"tiny"}
    assert set(multiplexer.Runs()) == names


def test_truncate_events_before_a_resume(tmp_path):
    """Epoch figures after the last completed epoch go, and so do batch_loss points after
    the checkpoint's step, the final scoring, and a record cut short by the kill."""
    with EventWriter(tmp_path / "train") as writer:
        for step in range(3):
            writer.scalar("epoch_loss", float(step), step=step)
        for step in range(1, 31):
            writer.scalar("batch_loss", float(step), step=step)
    with EventWriter(tmp_path / "validation") as writer:
        for step in range(3):
            writer.scalar("epoch_loss", float(step), step=step)
    with EventWriter(tmp_path / "samples") as writer:
        writer.text(monitoring.SAMPLES_TAG, "a table", step=2)
    monitoring.write_test_metrics(
        tmp_path, {"loss": 1.0, "perplexity": 2.7, "top1": 0.5, "top5": 0.9}, step=2
    )
    with EventWriter(tmp_path) as writer:
        writer.text("model_summary", "a model", step=0)
    [torn] = (tmp_path / "validation").glob("events.*")
    torn.write_bytes(torn.read_bytes()[:-9])  # the kill lands in the last record
    assert not read_records(torn)[1]

    monitoring.truncate_events(tmp_path, epochs_completed=2, global_step=20)

    def steps(folder, tag):
        return [step for step, _ in values(tmp_path / folder, tag)]

    assert steps("train", "epoch_loss") == [0, 1] == steps("validation", "epoch_loss")
    assert steps("train", "batch_loss") == list(range(1, 21))
    assert steps("samples", monitoring.SAMPLES_TAG) == []
    assert steps("test", "epoch_loss") == []
    assert steps(".", "model_summary") == [0]
    for path in tmp_path.rglob("events.*"):
        records, whole = read_records(path)
        assert whole and records  # each file keeps its version header
    assert not list(tmp_path.rglob(".*.partial"))

