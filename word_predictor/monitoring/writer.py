"""Summaries into event files through TensorBoard's own writer: one path on every backend.

    EventWriter(folder)                  one event file in `folder`, which TensorBoard lists as a run
      .scalar(tag, value, step)          Scalars and Time Series
      .text(tag, markdown, step)         Text
      .histogram(tag, values, step)      Histograms and Distributions
      .summary(summary, step)            any Summary built elsewhere (the hparams plugin's)
    RunWriters(run_dir)["train"]         one EventWriter per sub-folder of a run, opened on first use

TensorBoard's EventFileWriter frames and writes the records, and the plugins' `*_pb`
functions build the Summary protos; neither needs TensorFlow. (TensorBoard opens the
file through TensorFlow's gfile where TensorFlow is installed and through its own
stub elsewhere: the same bytes either way.)
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.histogram import metadata as histogram_metadata
from tensorboard.plugins.scalar.summary_v2 import scalar_pb
from tensorboard.plugins.text.summary_v2 import text_pb
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util import tensor_util

from word_predictor.backend import keras

# The writer's thread flushes at most this often: events show up in TensorBoard within
# about a second, and a killed trainer loses at most that much.
FLUSH_SECONDS = 1
HISTOGRAM_BUCKETS = 30  # TensorBoard's own default


class EventWriter:
    """Appends summaries to a new event file in `folder` (created if missing)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._writer = EventFileWriter(str(self.folder), flush_secs=FLUSH_SECONDS)

    def summary(self, summary: summary_pb2.Summary, step: int) -> None:
        self._writer.add_event(event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.summary(scalar_pb(tag, float(value)), step)  # stored as float32, as tf.summary does

    def text(self, tag: str, markdown: str, step: int) -> None:
        self.summary(text_pb(tag, markdown), step)

    def histogram(self, tag: str, values, step: int) -> None:
        self.summary(histogram_summary(tag, values), step)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exception) -> None:
        self.close()


class RunWriters:
    """The event writers of one run, one per sub-folder ("train", "validation", ...).

    Callbacks that write to the same folder share one file. close() ends them all; a
    later write opens a new file (as each fit() of a resumed run does).
    """

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self._open: dict[str, EventWriter] = {}

    def __getitem__(self, folder: str) -> EventWriter:
        if folder not in self._open:
            self._open[folder] = EventWriter(self.run_dir / folder)
        return self._open[folder]

    def flush(self) -> None:
        for writer in self._open.values():
            writer.flush()

    def close(self) -> None:
        for writer in self._open.values():
            writer.close()
        self._open.clear()


def histogram_summary(tag: str, values, buckets: int = HISTOGRAM_BUCKETS) -> summary_pb2.Summary:
    """The Summary that TensorBoard's histogram_pb builds, counted with np.histogram.

    The same tensor: `buckets` rows of [left edge, right edge, count], float64, edges
    evenly spaced from the smallest value to the largest. histogram_pb counts through
    a (values, buckets) one-hot matrix, which for a 256 x 33,000 output kernel costs
    seconds and hundreds of MB at every epoch; np.histogram counts in one pass.
    Values that are not finite (a diverged weight) are left out of the counts.
    """
    data = np.asarray(values, dtype=np.float64).ravel()
    data = data[np.isfinite(data)]
    rows = np.zeros((buckets, 3))
    if data.size and data.min() == data.max():
        rows[:, :2] = data[0]  # histogram_pb's convention: every edge at the value,
        rows[-1, 2] = data.size  # all of it counted in the last bucket
    elif data.size:
        counts, edges = np.histogram(data, bins=buckets)
        rows = np.stack([edges[:-1], edges[1:], counts], axis=1)
    summary = summary_pb2.Summary()
    summary.value.add(
        tag=tag,
        metadata=histogram_metadata.create_summary_metadata(display_name=None, description=None),
        tensor=tensor_util.make_tensor_proto(rows, dtype=np.float64),
    )
    return summary


class WritingCallback(keras.callbacks.Callback):
    """A callback that writes through the run's shared writers, closed when fit() ends."""

    def __init__(self, writers: RunWriters):
        super().__init__()
        self.writers = writers

    def on_train_end(self, logs=None):
        self.writers.close()
