"""What training prints while it runs: a progress line during each epoch, and one short
line at its end.

On a terminal the progress is one line redrawn in place; without one (a log file,
CI) a plain line at most every `interval` seconds, so a long epoch is never silent
for minutes. The epoch line keeps Keras' "Epoch N/M" prefix and `name: value`
pairs (benchmarks read `val_loss:` and `targets_per_second:` from it), with 4
significant figures instead of float32's full expansion:

    Epoch 2/10 - loss: 5.123 - perplexity: 167.8 - accuracy: 0.1234 - val_loss: 5.012 - val_perplexity: 150.2
      - val_accuracy: 0.1301 - learning_rate: 0.001 - seconds: 41.2 - targets_per_second: 51234
    (one line)
"""

from __future__ import annotations

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
