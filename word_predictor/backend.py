"""Keras, imported once with TensorFlow's start-up chatter held back.

Modules that need Keras take it from here (`from word_predictor.backend import keras`),
so commands that don't (`python -m word_predictor.runs`) start without TensorFlow.

TensorFlow 2.21 prints CUDA probing and oneDNN notices straight to file descriptor 2
before its log settings apply, burying our one-line messages. They are shown if the
import fails, or always with WORD_PREDICTOR_TF_LOGS=1.
"""

import os
import sys
import tempfile

BACKENDS = ("tensorflow", "jax", "torch")


def add_backend_argument(parser) -> None:
    parser.add_argument(
        "--backend", choices=BACKENDS, default=None,
        help="Keras backend (default: the KERAS_BACKEND environment variable, else tensorflow)",
    )  # fmt: skip


def select(name: str | None) -> None:
    """Choose the Keras backend; call before anything imports Keras."""
    if name is None:
        return
    if "keras" in sys.modules:
        current = sys.modules["keras"].backend.backend()
        if current != name:
            raise ValueError(f"Keras already runs on {current}; --backend {name} must be chosen before it loads")
        return
    os.environ["KERAS_BACKEND"] = name


def _import_keras_quietly():
    if os.environ.get("WORD_PREDICTOR_TF_LOGS") or os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        import keras

        return keras
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import keras
            import tensorflow as tf

            tf.config.list_physical_devices()  # the CUDA probe, while still quiet
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return keras


def __getattr__(name: str):
    # `from word_predictor.backend import keras` imports Keras on first use, so a
    # command can choose the backend after parsing its flags.
    if name == "keras":
        globals()["keras"] = _import_keras_quietly()
        return globals()["keras"]
    raise AttributeError(name)


def gpu_available() -> bool:
    """Whether the Keras backend sees a GPU (any backend; Keras' own list lacks torch)."""
    from word_predictor.backend import keras

    name = keras.backend.backend()
    if name == "torch":
        import torch

        return torch.cuda.is_available()
    return any(device.lower().startswith("gpu") for device in keras.distribution.list_devices())
