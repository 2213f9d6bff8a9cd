"""Fit a run: the trainer, the validation of each epoch, checkpoints and resume, progress lines."""

