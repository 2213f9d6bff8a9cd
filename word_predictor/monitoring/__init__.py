"""Everything a run shows in TensorBoard, written without TensorFlow on every Keras backend.

    writer.py      EventWriter: summaries into event files through TensorBoard's own writer
    callbacks.py   Keras callbacks the trainer adds to fit(): epoch figures, batch loss,
                   samples tables, histograms and gradient norms
    summaries.py   what a run writes once: hparams, model summary, settings; test figures
                   and the kept model's samples at the end
    projector.py   the learned embedding for the projector, as a TSV tensor
    events.py      reading event files back, and truncating them before a resume

    RUN             hparams, model_summary, configuration
    RUN/train       epoch_* figures, batch_loss, timing; histograms and gradient norms
    RUN/validation  epoch_* figures
    RUN/test        the kept model's figures on the test split
    RUN/samples     next_word_predictions each epoch, then the kept model's
    RUN/projector   the embedding and its words

Epoch summaries use the epoch (from 0) as their step; batch_loss uses the global
training step, which a resumed run continues. docs/tensorboard.md shows where each
appears in TensorBoard.
"""

from word_predictor.monitoring.callbacks import SAMPLES_TAG, callbacks, epoch_label
from word_predictor.monitoring.events import read_events, truncate_events
from word_predictor.monitoring.projector import write_projector
from word_predictor.monitoring.summaries import (
    HPARAM_METRICS,
    HPARAMS,
    hparam_values,
    write_final_samples,
    write_run_description,
    write_test_metrics,
)
from word_predictor.monitoring.writer import EventWriter

__all__ = [
    "HPARAMS",
    "HPARAM_METRICS",
    "SAMPLES_TAG",
    "EventWriter",
    "callbacks",
    "epoch_label",
    "hparam_values",
    "read_events",
    "truncate_events",
    "write_final_samples",
    "write_projector",
    "write_run_description",
    "write_test_metrics",
]
