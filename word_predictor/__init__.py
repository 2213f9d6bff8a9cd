"""word_predictor: learn to predict the next word of a text with recurrent networks."""

__version__ = "0.1.0"
