"""The input pipeline's share of a step: the seconds spent making batches."""

from __future__ import annotations

import time

from word_predictor.backend import keras


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
