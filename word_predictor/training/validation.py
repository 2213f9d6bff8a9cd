"""How each epoch's end scores the validation split, picked by the context's `validated_by`:

    "fit"     Keras' own evaluation of the training view on the context's validation
              batches (windows: fit's validation_data)
    "reader"  ScoredValidation: the trained weights copied into the inference view and
              the split scored through its reader as evaluate scores a text (full context)
"""

from __future__ import annotations

import time

from word_predictor.backend import keras
from word_predictor.corpus.splits import Split
from word_predictor.model.build import copy_weights
from word_predictor.scoring.evaluate import score


class ScoredValidation(keras.callbacks.Callback):
    """Adds val_loss, val_accuracy, val_top5_accuracy and validation_seconds to each
    epoch's logs, scored as evaluate scores a text (evaluate.score): the trained weights
    copied into the reader's inference view, every segment read from a zero state with
    its whole text before each token. Put it first among the callbacks, which read these.
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


def _by_fit(context, split: Split, reader):
    return context.validation_batches(split), []


def _by_reader(context, split: Split, reader):
    return None, [ScoredValidation(reader, split)]


VALIDATIONS = {"fit": _by_fit, "reader": _by_reader}


def validation_for(context, split: Split, reader):
    """(batches for fit's validation_data or None, callbacks that add the val_ figures
    themselves), or None when the split holds nothing to score. `reader` is the context's
    reader of the inference view (the trainer keeps one for the run: what it traced and
    compiled for validation serves the samples and the test split too)."""
    if not context.has_validation_targets(split):
        return None
    return VALIDATIONS[context.validated_by](context, split, reader)
