"""A run -> a TensorFlow SavedModel of the stateless step, by Keras' own export
(`export(format="tf_saved_model")`), TensorFlow only: the open-length inference view with
the generic recurrent kernels (no cuDNN), the run's weights copied in by layer name.

    signature "serving_default": tokens (batch, time) int32 [+ states (batch, units)]
      -> output_0: logits; output_1 ...: the new states, in the order of the manifest's states
"""

from __future__ import annotations

from word_predictor.backend import keras
from word_predictor.config import Config, CorpusFacts
from word_predictor.exporter.onnx import state_names
from word_predictor.model import build_model, copy_weights

MODEL_FOLDER = "saved_model"


def write(config: Config, facts: CorpusFacts, weights: dict, folder, model) -> tuple[str, str, list[dict], None]:
    if keras.backend.backend() != "tensorflow":
        raise ValueError("a SavedModel is TensorFlow's format; run the export with --backend tensorflow")
    step = copy_weights(model, build_model(config, facts, use_cudnn=False))
    step.export(str(folder / MODEL_FOLDER), format="tf_saved_model", verbose=False)
    states = [{"name": state_in, "output": f"output_{i}", "shape": ["batch", config.units]}
              for i, (state_in, _) in enumerate(state_names(config), 1)]  # fmt: skip
    return MODEL_FOLDER, "output_0", states, None  # the logits alone: the runtime that caches reads ONNX
