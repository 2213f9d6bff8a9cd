"""A model that learns while it reads: a continuous cache (cache.py, NumPy only) and
dynamic evaluation (dynamic.py, Keras), their settings (settings.py, checked there), a
Keras run's hidden state beside its logits (hidden.py; the exported ONNX graph gives the
same as an output of its own), and a text read in order and scored with either
(segments.py, scoring.py: evaluate --adapt; without Keras but for dynamic evaluation)."""
