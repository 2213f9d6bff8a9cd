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


class EpochProgress(keras.callbacks.Callback):
    """Prints training progress to `stream` (stdout). Put it after the callbacks that add
    figures to the epoch's logs (monitoring's perplexity, learning rate, speed)."""

    def __init__(self, stream: TextIO | None = None, *, interval: float = 30.0, terminal: bool | None = None,
                 clock=time.monotonic):  # fmt: skip
        super().__init__()
        self.stream = stream or sys.stdout
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self.interval = _TERMINAL_INTERVAL if self.terminal else interval
        self.clock = clock
        self.epoch = 0
        self.started = self.shown = 0.0
        self.open_line = False  # a bar drawn on the terminal, not yet ended by a newline

    def _prefix(self) -> str:
        return f"Epoch {self.epoch + 1}/{self.params.get('epochs', '?')}"

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.started = self.shown = self.clock()

    def on_train_batch_end(self, batch, logs=None):
        now = self.clock()
        if now - self.shown < self.interval:
            return
        self.shown = now
        steps = self.params.get("steps") or 0
        done = batch + 1
        loss = f" - loss: {figure(float(logs['loss']))}" if logs and "loss" in logs else ""
        elapsed = now - self.started
        left = f", {elapsed * (steps - done) / done:.0f} s left" if steps else ""
        if self.terminal:
            filled = int(_BAR_WIDTH * done / steps) if steps else 0
            bar = "[" + "#" * filled + "." * (_BAR_WIDTH - filled) + "]"
            self.stream.write(f"\r{self._prefix()} {bar} {done}/{steps or '?'}{loss}{left}\033[K")
            self.open_line = True
        else:
            self.stream.write(f"{self._prefix()}: step {done}/{steps or '?'}{loss} ({elapsed:.0f} s{left})\n")
        self.stream.flush()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        parts = [f"{name}: {figure(float(logs[name]))}" for name in EPOCH_FIGURES if name in logs]
        if "targets_per_second" in logs:
            parts.append(f"targets_per_second: {float(logs['targets_per_second']):.0f}")
        self.stream.write(("\r\033[K" if self.open_line else "") + " - ".join([self._prefix(), *parts]) + "\n")
        self.stream.flush()
        self.open_line = False
class ProgressBar:
    """Bytes read of the total, the rate and the time left, on `stream` (stderr):
    redrawn in place on a terminal, else a plain line at most every `interval`
    seconds (and a last one when done, if any was written)."""

    def __init__(self, stream: TextIO | None = None, *, interval: float = 30.0, clock=time.monotonic):
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty()
        self.interval = interval if not self.terminal else 0.2
        self.clock = clock
        self.start("", 0)

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.started = self.shown = self.clock()
        self.lines = 0

    def advance(self, amount: int) -> None:
        self.done += amount
        if self.clock() - self.shown >= self.interval:
            self._show()

    def finish(self) -> None:
        if self.terminal or self.lines:
            self._show()
        if self.terminal:
            self.stream.write("\n")
            self.stream.flush()

    def describe(self) -> str:
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        bar = ""
        if self.terminal:
            filled = int(24 * self.done / self.total) if self.total else 24
            bar = "[" + "#" * filled + "." * (24 - filled) + "] "
        return (f"{self.label}: {bar}{self.done / 1e6:,.1f} of {self.total / 1e6:,.1f} MB, "
                f"{rate / 1e6:,.1f} MB/s, {_duration(left)} left")  # fmt: skip

    def _show(self) -> None:
        self.shown = self.clock()
        self.lines += 1
        # On a terminal: back to the line's start, clear it, draw; elsewhere one line.
        line = f"\r\033[K{self.describe()}" if self.terminal else f"{self.describe()}\n"
        self.stream.write(line)
        self.stream.flush()


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
