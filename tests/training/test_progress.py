"""The progress display (tqdm): concise epoch figures, the corpus read in bytes, redrawn in
place on a terminal and a plain line at most every interval anywhere else."""

from __future__ import annotations

import io
import re

from word_predictor.training.progress import EpochProgress, ProgressBar, figure


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Terminal(io.StringIO):
    def isatty(self):
        return True


def progress(stream, interval: float = 30.0):
    clock = Clock()
    callback = EpochProgress(stream, interval=interval, clock=clock)
    callback.set_params({"epochs": 3, "steps": 100})
    return callback, clock


def test_figures_have_four_significant_digits():
    assert figure(0.0024999999441206455) == "0.0025"
    assert figure(5.123456) == "5.123"
    assert figure(167.8123) == "167.8"


def test_without_a_terminal_a_line_at_most_every_interval_then_a_short_epoch_line():
    stream = io.StringIO()
    callback, clock = progress(stream)
    callback.on_epoch_begin(1)
    for batch in range(100):
        clock.now += 1.0  # a second per step: lines at 30, 60 and 90 s
        callback.on_train_batch_end(batch, {"loss": 5.0 - batch / 100})
    callback.on_epoch_end(1, {"loss": 4.5, "val_loss": 4.25, "learning_rate": 0.0024999999441206455,
                              "seconds": 100.0, "targets_per_second": 12345.678})  # fmt: skip
    lines = stream.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines[:-1]] == [f"Epoch 2/3: step {n}/100" for n in (30, 60, 90)]
    assert lines[0] == "Epoch 2/3: step 30/100, loss: 4.71 (00:30 elapsed, 01:10 left)"
    assert lines[-1] == ("Epoch 2/3 - loss: 4.5 - val_loss: 4.25 - learning_rate: 0.0025 - seconds: 100 - "
                         "targets_per_second: 12346")  # fmt: skip
    # What benchmarks/full_context.py and quality.py read from it.
    assert re.findall(r"targets_per_second: ([0-9.]+)", lines[-1]) == ["12346"]
    assert "\r" not in stream.getvalue()


def test_a_short_epoch_without_a_terminal_prints_its_figures_alone():
    stream = io.StringIO()
    callback, clock = progress(stream)
    callback.on_epoch_begin(0)
    for batch in range(100):
        clock.now += 0.1
        callback.on_train_batch_end(batch, {"loss": 3.0})
    callback.on_epoch_end(0, {"loss": 3.0})
    assert stream.getvalue() == "Epoch 1/3 - loss: 3\n"


def test_on_a_terminal_one_line_redrawn_then_replaced_by_the_epoch_line(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # the width Python reads a terminal's size from first
    stream = Terminal()
    callback, clock = progress(stream)
    callback.on_epoch_begin(0)
    for batch in range(10):
        clock.now += 1.0
        callback.on_train_batch_end(batch, {"loss": 3.0})
    callback.on_epoch_end(0, {"loss": 3.0})
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.count("\r") >= 11  # drawn at the start and after each second
    drawn = re.search(r"\rEpoch 1/3:  10%\|(#* *)\| 10/100 \[00:10<01:30, +1\.00step/s, loss: 3\]", text)
    # as wide as the terminal, a tenth of the bar filled
    assert drawn and len(drawn[0]) == 1 + 80 and drawn[1].count("#") == len(drawn[1]) // 10
    assert text.endswith("\rEpoch 1/3 - loss: 3\n")  # the bar cleared, then the epoch's line


def test_progress_bar_writes_a_plain_line_at_most_every_interval():
    stream, clock = io.StringIO(), Clock()
    bar = ProgressBar(stream, interval=30, clock=clock)
    bar.start("counting", 100_000_000)
    for _ in range(10):
        clock.now += 10
        bar.advance(5_000_000)
    bar.finish()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4  # at 30, 60 and 90 s, and when done
    assert lines[0] == "counting: 15.0MB of 100MB, 500kB/s, 02:50 left"
    assert lines[-1].startswith("counting: 50.0MB of 100MB, 500kB/s")
    assert "\r" not in stream.getvalue()
    quiet = io.StringIO()
    short = ProgressBar(quiet, interval=30, clock=Clock())
    short.start("counting", 10)
    short.advance(10)
    short.finish()
    assert quiet.getvalue() == ""  # a short read says nothing


def test_progress_bar_redraws_in_place_on_a_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    stream, clock = Terminal(), Clock()
    bar = ProgressBar(stream, clock=clock)
    bar.start("encoding", 4_000_000)
    for _ in range(4):
        clock.now += 1
        bar.advance(1_000_000)
    bar.finish()
    drawn = stream.getvalue()
    # drawn at the start, after each second and once when done; one line in all
    assert drawn.count("\r") == 6 and drawn.endswith("\n") and drawn.count("\n") == 1
    assert re.search(r"\rencoding: 100%\|#+\| 4\.00M/4\.00M \[00:04<00:00, 1\.00MB/s\]", drawn)
