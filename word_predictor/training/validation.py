"""How each epoch's end scores the validation split: the trained weights copied into the
run's inference view and the split scored through its reader, as evaluate scores a text.

Both contexts validate this way. A window run's validation once went through Keras' own
evaluation of the training view (fit's validation_data); the reader gives the same figures
(the same windows, each scored at its last position, ties ranked alike) while computing
only the last position's logits, and it shares the inference view's traced and compiled
calls with the samples and the test split instead of tracing an evaluation step of its
own. A full-context run's lanes in training are fixed at --batch-size, so a few long
segments would leave most of them idle; its reader reads each segment whole in one lane.
"""

from __future__ import annotations

import time

from word_predictor.backend import keras
from word_predictor.corpus.splits import Split
from word_predictor.model.factory import copy_weights
from word_predictor.scoring.evaluate import score


class ScoredValidation(keras.callbacks.Callback):
    """Adds val_loss, val_accuracy, val_top5_accuracy and validation_seconds to each
    epoch's logs, scored as evaluate scores a text (evaluate.score): the trained weights
    copied into the reader's inference view, every target of the split scored with the
    context the reader gives it. Put it first among the callbacks, which read these.
    """

    def __init__(self, reader, split: Split):
        super().__init__()
        self.reader, self.split = reader, split

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        begin = time.perf_counter()
        copy_weights(self.model, self.reader.model)
        scores = score(self.reader, self.split)
        logs.update(val_loss=scores["loss"], val_accuracy=scores["top1"], val_top5_accuracy=scores["top5"])
        logs["validation_seconds"] = time.perf_counter() - begin


def validation_for(context, split: Split, reader) -> list[keras.callbacks.Callback]:
    """The callbacks that add the val_ figures to each epoch's logs; [] when the split holds
    nothing to score. `reader` is the context's reader of the inference view (the trainer
    keeps one for the run: what it traces and compiles for validation serves the samples
    and the test split too)."""
    if not context.has_validation_targets(split):
        return []
    return [ScoredValidation(reader, split)]
