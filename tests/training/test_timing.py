"""TimedBatches: batches passed through unchanged, the seconds spent making them added up."""

from __future__ import annotations

import time

from word_predictor.training.timing import TimedBatches


class SlowBatches:
    def __init__(self):
        self.epochs_ended = 0

    def __len__(self):
        return 3

    def __getitem__(self, index):
        time.sleep(0.01)
        return index * 10

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_batches_pass_through_and_their_making_is_timed():
    inner = SlowBatches()
    timed = TimedBatches(inner)
    assert len(timed) == 3
    assert [timed[index] for index in range(3)] == [0, 10, 20]
    assert 0.03 <= timed.seconds < 1.0
    timed.on_epoch_end()
    assert inner.epochs_ended == 1
