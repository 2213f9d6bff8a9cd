"""Config -> Keras model. Uses keras and keras.ops only, so any Keras backend runs it.

    tokens (batch, time) int32
      -> Embedding (batch, time, embedding_dim)   or   OneHot (batch, time, vocabulary)
      -> Dropout
      -> [cell, or Bidirectional(cell)] x layers, each followed by Dropout
           every layer returns sequences, except the last one when targets="last"
      -> Dense "next_word" logits: (batch, time, vocabulary) for "all",
                                    (batch, vocabulary) for "last"

Prediction reads only the last position through `next_word_model`, which adds the
softmax. The time axis is left open, so a context shorter than window_size runs too.
"""

from __future__ import annotations

import numpy as np

from word_predictor.backend import keras
from word_predictor.config import CELLS, Config

layers, ops = keras.layers, keras.ops

CELL_LAYERS = {"simple_rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}
assert tuple(CELL_LAYERS) == CELLS

OUTPUT_LAYER = "next_word"


@keras.saving.register_keras_serializable(package="word_predictor")
class OneHot(layers.Layer):
    """(batch, time) ids -> (batch, time, depth) one-hot, made per batch inside the model."""

    def __init__(self, depth: int, **kwargs):
        super().__init__(**kwargs)
        self.depth = depth

    def call(self, ids):
        return ops.one_hot(ops.cast(ids, "int32"), self.depth, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.depth)

    def get_config(self):
        return {**super().get_config(), "depth": self.depth}


def validate(config: Config) -> None:
    """Fail early, with the valid choices, before any data is read."""
    if config.cell not in CELL_LAYERS:
        raise ValueError(f"unknown cell {config.cell!r}; choose one of {', '.join(CELL_LAYERS)}")
    if config.bidirectional and config.targets == "all":
        raise ValueError(
            "a bidirectional layer sees the words after each position, so it cannot predict "
            "every position; use --targets last with --bidirectional"
        )
    if config.layers < 1 or config.units < 1 or config.window_size < 1 or config.embedding_dim < 1:
        raise ValueError("--layers, --units, --window-size and --embedding-dim must be at least 1")
    if not 0.0 <= config.dropout < 1.0:
        raise ValueError("--dropout must be in [0, 1)")


def build_model(config: Config, fixed_length: bool = False) -> keras.Model:
    """An uncompiled model for `config`; `config.vocabulary_size` must be set.

    The default reads contexts of any length. `fixed_length=True` builds the same
    weights for windows of exactly `window_size` words with the time loop unrolled,
    which trains faster on a CPU; on a GPU it would forgo the cuDNN kernel.
    """
    validate(config)
    if config.vocabulary_size < 2:
        raise ValueError("config.vocabulary_size is filled in from the corpus before building")
    cell_layer = CELL_LAYERS[config.cell]
    length = config.window_size if fixed_length else None
    tokens = keras.Input(shape=(length,), dtype="int32", name="tokens")
    if config.one_hot:
        x = OneHot(config.vocabulary_size, name="one_hot")(tokens)
    else:
        x = layers.Embedding(config.vocabulary_size, config.embedding_dim, name="embedding")(tokens)
    x = layers.Dropout(config.dropout, name="input_dropout")(x)
    for number in range(1, config.layers + 1):
        returns_sequences = number < config.layers or config.targets == "all"
        # Default activations, no recurrent dropout and GRU reset_after=True keep
        # LSTM and GRU eligible for the cuDNN kernel on a GPU; LSTM's
        # unit_forget_bias (on by default) starts the forget gate's bias at 1.
        recurrent = cell_layer(
            config.units, return_sequences=returns_sequences, unroll=fixed_length, name=f"{config.cell}_{number}"
        )
        if config.bidirectional:
            recurrent = layers.Bidirectional(recurrent, name=f"bidirectional_{number}")
        x = recurrent(x)
        x = layers.Dropout(config.dropout, name=f"dropout_{number}")(x)
    logits = layers.Dense(config.vocabulary_size, name=OUTPUT_LAYER)(x)
    return keras.Model(tokens, logits, name=f"word_predictor_{config.cell}")


def compile_model(model: keras.Model, config: Config) -> None:
    optimizer = keras.optimizers.Adam(
        learning_rate=config.learning_rate, clipnorm=config.clip_norm if config.clip_norm > 0 else None
    )
    model.compile(
        optimizer=optimizer,
        # Divide by the sum of weights, so a validation batch weighted 0 ... 0 1
        # gives the mean over its last positions.
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight"),
        weighted_metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5_accuracy"),
        ],
    )


def open_length_copy(model: keras.Model, config: Config, into: keras.Model | None = None) -> keras.Model:
    """A model that reads contexts of any length, carrying `model`'s current weights.

    Pass the copy back as `into` to refresh it without building it again.
    """
    into = into or build_model(config)
    into.set_weights(model.get_weights())
    return into


def next_word_model(model: keras.Model) -> keras.Model:
    """(batch, time) ids -> (batch, vocabulary) probabilities of the word after the last one.

    Shares the trained model's layers; for a model that predicts at every position
    it applies the output layer to the last position only.
    """
    output_layer = model.get_layer(OUTPUT_LAYER)
    hidden = output_layer.input  # (batch, time, units) or (batch, units)
    if len(hidden.shape) == 3:
        hidden = hidden[:, -1, :]
    probabilities = ops.softmax(output_layer(hidden), axis=-1)
    return keras.Model(model.input, probabilities, name="next_word_probabilities")


class NextWord:
    """Probabilities of the next word for batches of contexts, through a compiled step."""

    def __init__(self, model: keras.Model):
        self.model = next_word_model(model)

    def __call__(self, contexts: np.ndarray) -> np.ndarray:
        """(batch, time) int32 -> (batch, vocabulary) float32."""
        return np.asarray(self.model.predict_on_batch(np.asarray(contexts, dtype=np.int32)))
