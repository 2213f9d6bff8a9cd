"""What training shows on the terminal: the corpus read's progress and one line per epoch,
both drawn by tqdm.

On a terminal tqdm redraws one line in place. Anywhere else (a log file, CI) the same
display writes a line of its own at most every `interval` seconds and none before, so a
short read or epoch says nothing and a log never fills with carriage returns."""

from __future__ import annotations

import shutil
import sys
from typing import TextIO

from tqdm import tqdm

from word_predictor.backend import keras

# Figures shown at an epoch's end, in this order, when the logs hold them.
EPOCH_FIGURES = ("loss", "perplexity", "accuracy", "val_loss", "val_perplexity", "val_accuracy", "learning_rate",
                 "seconds")  # fmt: skip
TERMINAL_INTERVAL = 0.2  # seconds between redraws on a terminal


def figure(value: float) -> str:
    """`value` to 4 significant figures, without an exponent for everyday sizes."""
    return f"{value:.4g}"


class Display(tqdm):
    """tqdm on `stream`: redrawn in place on a terminal (`terminal`: None asks the stream),
    else a plain line at most every `interval` seconds, the first after `interval` seconds.
    `line_format`: tqdm's bar_format for those plain lines. `leave`: keep the last state
    when closed (else a terminal's line is cleared, and no last line is written).
    `clock`: seconds, for tests (tqdm's own clock otherwise)."""

    monitor_interval = 0  # no monitor thread: every update checks the time itself (miniters=1)

    def __init__(self, total, *, stream: TextIO, interval: float, line_format: str, terminal: bool | None = None,
                 leave: bool = True, clock=None, **tqdm_arguments):  # fmt: skip
        self.terminal = stream.isatty() if terminal is None else terminal
        self.keep_last = leave
        if self.terminal:
            # The size as Python reads it, with its fallback (80 x 24): a terminal that reports
            # 0 x 0 (a bare pseudo-terminal) would otherwise make tqdm draw nothing.
            columns, rows = shutil.get_terminal_size()
            tqdm_arguments.update(ncols=columns, nrows=rows)
        else:
            tqdm_arguments.update(bar_format=line_format, delay=interval)
        super().__init__(total=total, file=stream, leave=leave and self.terminal, miniters=1, dynamic_ncols=False,
                         mininterval=TERMINAL_INTERVAL if self.terminal else interval, **tqdm_arguments)  # fmt: skip
        if clock is not None:
            self._time = clock  # tqdm reads its clock through this attribute; its own tests set it so too
            self.start_t = self.last_print_t = clock()

    def display(self, msg=None, pos=None):
        if self.terminal:
            return super().display(msg, pos)
        text = str(self) if msg is None else msg
        if text:  # tqdm clears a line with an empty message: nothing to clear in a log
            self.fp.write(text + "\n")
            self.fp.flush()
        return False

    def close(self):
        shown = not self.disable and self.last_print_t >= self.start_t + self.delay
        if shown and self.keep_last and not self.terminal:
            self.display()  # the state when done, after the lines written on the way
        super().close()


class EpochProgress(keras.callbacks.Callback):
    """Prints training progress to `stream` (stdout): a bar of the epoch's steps, then one
    line of figures when it ends. Put it after the callbacks that add figures to the epoch's
    logs (monitoring's perplexity, learning rate, speed)."""

    def __init__(self, stream: TextIO | None = None, *, interval: float = 30.0, terminal: bool | None = None,
                 clock=None):  # fmt: skip
        super().__init__()
        self.stream = stream or sys.stdout
        self.interval, self.terminal, self.clock = interval, terminal, clock
        self.epoch = 0
        self.bar: Display | None = None

    def _prefix(self) -> str:
        return f"Epoch {self.epoch + 1}/{self.params.get('epochs', '?')}"

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.bar = Display(self.params.get("steps") or None, stream=self.stream, interval=self.interval,
                           terminal=self.terminal, clock=self.clock, leave=False, desc=self._prefix(), unit="step",
                           line_format="{desc}: step {n_fmt}/{total_fmt}{postfix} ({elapsed} elapsed, "
                                       "{remaining} left)")  # fmt: skip

    def on_train_batch_end(self, batch, logs=None):
        if self.bar is None:
            return
        if logs and "loss" in logs:  # Keras hands callbacks Python numbers: formatting one is cheap
            self.bar.set_postfix_str(f"loss: {figure(float(logs['loss']))}", refresh=False)
        self.bar.update(1)

    def on_epoch_end(self, epoch, logs=None):
        if self.bar is not None:
            self.bar.close()  # on a terminal, clears the bar for the line below
            self.bar = None
        logs = logs or {}
        parts = [f"{name}: {figure(float(logs[name]))}" for name in EPOCH_FIGURES if name in logs]
        if "targets_per_second" in logs:
            parts.append(f"targets_per_second: {float(logs['targets_per_second']):.0f}")
        self.stream.write(" - ".join([self._prefix(), *parts]) + "\n")
        self.stream.flush()


class ProgressBar:
    """Bytes read of the total, the rate and the time left, on `stream` (stderr): the
    corpus reader's `Progress` (start, advance, finish) drawn by a Display."""

    def __init__(self, stream: TextIO | None = None, *, interval: float = 30.0, terminal: bool | None = None,
                 clock=None):  # fmt: skip
        self.stream = stream or sys.stderr
        self.interval, self.terminal, self.clock = interval, terminal, clock
        self.bar: Display | None = None

    def start(self, label: str, total: int) -> None:
        self.finish()
        self.bar = Display(total, stream=self.stream, interval=self.interval, terminal=self.terminal, clock=self.clock,
                           desc=label, unit="B", unit_scale=True, unit_divisor=1000,
                           line_format="{desc}: {n_fmt}B of {total_fmt}B, {rate_fmt}, {remaining} left")  # fmt: skip

    def advance(self, amount: int) -> None:
        if self.bar is not None:
            self.bar.update(amount)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
