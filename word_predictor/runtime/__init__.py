"""The runtime: an exported ONNX folder answered with NumPy and ONNX Runtime alone.

    from word_predictor.runtime import load
    predictor = load("exported")            # a word_predictor.predictor.Predictor
    predictor.suggest("some of them looks like").predictions

Nothing here imports Keras, TensorFlow or JAX (tests/runtime checks it in a process
where they cannot be imported).
"""

from word_predictor.runtime.session import load

__all__ = ["load"]
