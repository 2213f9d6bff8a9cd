"""A model that learns while it reads: a continuous cache (cache.py, NumPy only) and
dynamic evaluation (dynamic.py, Keras), and reading a text with either to score it
(scoring.py). hidden.py gives a Keras run's hidden state beside its logits."""
