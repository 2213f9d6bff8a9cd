"""A run (or an export) ready to answer: suggest, complete, generate; no Keras imported here."""

from word_predictor.predictor.generation import Generation, Sample, draw  # noqa: F401
from word_predictor.predictor.predictor import (  # noqa: F401
    Completions,
    EmptyTextError,
    Predictor,
    Suggestions,
)
