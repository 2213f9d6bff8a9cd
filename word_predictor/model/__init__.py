"""Config -> Keras model: the layers, the two views of one config, the loss and metrics."""

from word_predictor.model.factory import build_model, copy_weights  # noqa: F401
from word_predictor.model.compile import InTopK, compile_model, target_rank  # noqa: F401
from word_predictor.model.layers import (  # noqa: F401
    CELL_LAYERS,
    OUTPUT_LAYER,
    STATES_PER_CELL,
    CarriedRNN,
    LastStep,
    OneHot,
    TiedEmbedding,
)
