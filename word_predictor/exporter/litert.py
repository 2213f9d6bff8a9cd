"""A run -> model.tflite for the LiteRT interpreter (on-device keyboards), TensorFlow only.

LiteRT gets a step with a fixed time axis and the time loop unrolled: a window model reads
its `window_size` tokens, a full-context model one token per call with its states in and
out. Converted with a time loop instead, the model keeps TensorFlow's TensorList ops, which
the converter accepts but the LiteRT interpreter then fails to run. The step is rebuilt by
model.build_model (fixed_length=True, no cuDNN kernel) and the run's weights are copied in
by layer name; Keras' own `export(format="litert")` converts it (through a SavedModel and
TensorFlow's TFLite converter). The batch axis stays dynamic (resize the input tensors).

    signature "serving_default": tokens (batch, time) int32 [+ states (batch, units)]
      -> output_0: logits (batch, vocabulary), or (batch, 1, vocabulary) for a full-context
         step; output_1 ...: the new states, in the order of the manifest's states
"""

from __future__ import annotations

from word_predictor.backend import keras
from word_predictor.config import Config, CorpusFacts
from word_predictor.exporter.onnx import state_names
from word_predictor.model import build_model, copy_weights

MODEL_FILE = "model.tflite"
SIGNATURE = "serving_default"


def step_model(config: Config, facts: CorpusFacts, model) -> keras.Model:
    """The fixed-length, unrolled step of `model`'s weights."""
    return copy_weights(model, build_model(config, facts, fixed_length=True, use_cudnn=False))


def write(config: Config, facts: CorpusFacts, weights: dict, folder, model) -> tuple[str, str, list[dict], None]:
    if keras.backend.backend() != "tensorflow":
        raise ValueError("a LiteRT export is converted by TensorFlow; run it with --backend tensorflow")
    step_model(config, facts, model).export(str(folder / MODEL_FILE), format="litert", verbose=False)
    states = [{"name": state_in, "output": f"output_{i}", "shape": ["batch", config.units]}
              for i, (state_in, _) in enumerate(state_names(config), 1)]  # fmt: skip
    return MODEL_FILE, "output_0", states, None  # the logits alone: the runtime that caches reads ONNX
