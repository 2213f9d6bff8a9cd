"""A model that learns while it reads: a continuous cache (cache.py, NumPy only) and
dynamic evaluation (dynamic.py, Keras), their settings (settings.py, checked there), a
Keras run's hidden state beside its logits (hidden.py), and a text read in order and
scored with either (segments.py, scoring.py: evaluate --adapt)."""
