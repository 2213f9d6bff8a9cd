"""EventWriter and RunWriters: every kind of summary reads back with TensorBoard's own reader.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from tensorboard.plugins.histogram.summary_v2 import histogram_pb
from tensorboard.util import tensor_util

from tests.helpers import events, plugin_tags, values
from word_predictor.monitoring.writer import EventWriter, RunWriters, histogram_summary


pytestmark = pytest.mark.backend


# --- the writer --------------------------------------------------------------------------


def test_every_kind_of_summary_reads_back(tmp_path):
    with EventWriter(tmp_path) as writer:
        writer.scalar("loss", 2.5, step=3)
        writer.scalar("loss", math.inf, step=4)
        writer.text("notes", "| a | b |\n|---|---|", step=0)
        writer.histogram("weights", np.arange(10.0), step=1)
    assert values(tmp_path, "loss") == [(3, 2.5), (4, math.inf)]
    assert values(tmp_path, "notes") == [(0, "| a | b |\n|---|---|")]
    assert plugin_tags(tmp_path, "scalars") == {"loss"}
    assert plugin_tags(tmp_path, "text") == {"notes"}
    assert plugin_tags(tmp_path, "histograms") == {"weights"}
    [event] = events(tmp_path).Tensors("weights")
    buckets = tensor_util.make_ndarray(event.tensor_proto)  # rows of [left, right, count]
    assert buckets.shape == (30, 3) and buckets[:, 2].sum() == 10
    assert buckets[0, 0] == 0.0 and buckets[-1, 1] == 9.0


@pytest.mark.parametrize(
    "data", [np.random.default_rng(0).normal(size=(40, 25)), np.full(7, 0.5), np.zeros(0)]
)
def test_histogram_matches_tensorboards_own_builder(data):
    ours = tensor_util.make_ndarray(histogram_summary("h", data).value[0].tensor)
    theirs = tensor_util.make_ndarray(histogram_pb("h", data).value[0].tensor)
    np.testing.assert_allclose(ours, theirs)


def test_histogram_leaves_out_values_that_are_not_numbers():
    counted = tensor_util.make_ndarray(histogram_summary("h", [1.0, np.nan, 2.0, np.inf]).value[0].tensor)
    assert counted[:, 2].sum() == 2 and counted[0, 0] == 1.0 and counted[-1, 1] == 2.0


def test_run_writers_share_one_file_per_folder(tmp_path):
    writers = RunWriters(tmp_path)
    writers["train"].scalar("a", 1.0, step=0)
    writers["train"].scalar("b", 2.0, step=0)
    writers["validation"].scalar("a", 3.0, step=0)
    writers.close()
    assert len(list((tmp_path / "train").glob("events.out.tfevents.*"))) == 1
    assert values(tmp_path / "train", "b") == [(0, 2.0)] and values(tmp_path / "validation", "a") == [
        (0, 3.0)
    ]

