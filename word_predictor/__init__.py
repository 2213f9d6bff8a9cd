"""word_predictor: learn to predict the next word of a text with recurrent networks."""

import os
import sys
import tempfile

__version__ = "0.1.0"


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow (and Keras) with its start-up chatter held back.

    TensorFlow 2.21 prints CUDA probing and oneDNN notices straight to file
    descriptor 2 before its log settings apply, burying our one-line messages.
    They are shown if the import fails, or always with WORD_PREDICTOR_TF_LOGS=1.
    """
    if os.environ.get("WORD_PREDICTOR_TF_LOGS") or os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import keras  # noqa: F401
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


_import_tensorflow_quietly()
