"""What training shows on the terminal: the corpus read's progress bar and one line per epoch."""

from __future__ import annotations

import math
import sys
import time
from typing import TextIO

from word_predictor.backend import keras

# Figures shown at an epoch's end, in this order, when the logs hold them.
EPOCH_FIGURES = ("loss", "perplexity", "accuracy", "val_loss", "val_perplexity", "val_accuracy", "learning_rate",
                 "seconds")  # fmt: skip
_BAR_WIDTH = 24
_TERMINAL_INTERVAL = 0.2  # seconds between redraws of the bar


def figure(value: float) -> str:
    """`value` to 4 significant figures, without an exponent for everyday sizes."""
    return f"{value:.4g}"


class ProgressLine:
    """The one progress renderer: a line on `stream`, redrawn in place on a terminal (at
    most every 0.2 s), else written whole at most every `interval` seconds."""

    def __init__(self, stream: TextIO, interval: float, terminal: bool | None = None, clock=time.monotonic):
        self.stream = stream
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self.interval = _TERMINAL_INTERVAL if self.terminal else interval
        self.clock = clock
        self.shown = self.clock()
        self.lines = 0  # lines drawn since the last restart
        self.open = False  # a line drawn on the terminal, not yet ended by a newline

    def restart(self) -> None:
        self.shown, self.lines = self.clock(), 0

    def due(self) -> bool:
        return self.clock() - self.shown >= self.interval

    def draw(self, text: str) -> None:
        """Show `text` as the current progress: in place on a terminal, else as a line of its own."""
        self.shown = self.clock()
        self.lines += 1
        self.stream.write(f"\r\033[K{text}" if self.terminal else f"{text}\n")
        self.open = self.terminal
        self.stream.flush()

    def end(self, text: str | None = None) -> None:
        """End the line: with `text` as the last line (replacing one drawn in place), or as drawn."""
        if text is not None:
            self.stream.write(("\r\033[K" if self.open else "") + text + "\n")
        elif self.open:
            self.stream.write("\n")
        self.open = False
        self.stream.flush()

    @staticmethod
    def bar(fraction: float) -> str:
        filled = int(_BAR_WIDTH * min(max(fraction, 0.0), 1.0))
        return "[" + "#" * filled + "." * (_BAR_WIDTH - filled) + "]"


class EpochProgress(keras.callbacks.Callback):
    """Prints training progress to `stream` (stdout). Put it after the callbacks that add
    figures to the epoch's logs (monitoring's perplexity, learning rate, speed)."""

    def __init__(self, stream: TextIO | None = None, *, interval: float = 30.0, terminal: bool | None = None,
                 clock=time.monotonic):  # fmt: skip
        super().__init__()
        self.line = ProgressLine(stream or sys.stdout, interval, terminal, clock)
        self.epoch = 0
        self.started = 0.0

    def _prefix(self) -> str:
        return f"Epoch {self.epoch + 1}/{self.params.get('epochs', '?')}"

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.line.restart()
        self.started = self.line.shown

    def on_train_batch_end(self, batch, logs=None):
        if not self.line.due():
            return
        steps = self.params.get("steps") or 0
        done = batch + 1
        loss = f" - loss: {figure(float(logs['loss']))}" if logs and "loss" in logs else ""
        elapsed = self.line.clock() - self.started
        left = f", {elapsed * (steps - done) / done:.0f} s left" if steps else ""
        if self.line.terminal:
            bar = ProgressLine.bar(done / steps if steps else 0.0)
            self.line.draw(f"{self._prefix()} {bar} {done}/{steps or '?'}{loss}{left}")
        else:
            self.line.draw(f"{self._prefix()}: step {done}/{steps or '?'}{loss} ({elapsed:.0f} s{left})")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        parts = [f"{name}: {figure(float(logs[name]))}" for name in EPOCH_FIGURES if name in logs]
        if "targets_per_second" in logs:
            parts.append(f"targets_per_second: {float(logs['targets_per_second']):.0f}")
        self.line.end(" - ".join([self._prefix(), *parts]))


class ProgressBar:
    """Bytes read of the total, the rate and the time left, on `stream` (stderr), through
    a ProgressLine (and a last line when done, if any was written)."""

    def __init__(self, stream: TextIO | None = None, *, interval: float = 30.0, clock=time.monotonic):
        self.line = ProgressLine(stream or sys.stderr, interval, clock=clock)
        self.start("", 0)

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.line.restart()
        self.started = self.line.shown

    def advance(self, amount: int) -> None:
        self.done += amount
        if self.line.due():
            self.line.draw(self.describe())

    def finish(self) -> None:
        if self.line.terminal or self.line.lines:
            self.line.draw(self.describe())
        self.line.end()

    def describe(self) -> str:
        elapsed = max(self.line.clock() - self.started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        bar = ProgressLine.bar(self.done / self.total if self.total else 1.0) + " " if self.line.terminal else ""
        return (f"{self.label}: {bar}{self.done / 1e6:,.1f} of {self.total / 1e6:,.1f} MB, "
                f"{rate / 1e6:,.1f} MB/s, {_duration(left)} left")  # fmt: skip


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TimedBatches(keras.utils.PyDataset):
    """Passes batches through, adding up the seconds spent making them (the input pipeline's share)."""

    def __init__(self, batches):
        super().__init__()
        self.batches = batches
        self.seconds = 0.0

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        begin = time.perf_counter()
        try:
            return self.batches[index]
        finally:
            self.seconds += time.perf_counter() - begin

    def on_epoch_end(self):
        if hasattr(self.batches, "on_epoch_end"):
            self.batches.on_epoch_end()
