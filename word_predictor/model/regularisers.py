"""The regularisers the field uses for language models on small text (AWD-LSTM: Merity,
Keskar and Socher, "Regularizing and Optimizing LSTM Language Models", 2017), as
settings of the model factory. Each is active only in a training call: the inference
view (build_model(view="inference")) is the plain model, with the same weights.

    tokens (batch, time)
      -> embedding                              EmbeddingDropout: whole words zeroed, one
                                                mask over the vocabulary per batch
      -> input_dropout                          LockedDropout with locked_dropout: one mask
                                                per sequence, (batch, 1, features)
      -> recurrent layer k                      weight_drop: DropConnect on its recurrent
                                                kernel, one mask per batch (model.cells)
      -> dropout_k                              LockedDropout, as above
         (the last layer)                       ActivationRegularisation: AR on the dropped
                                                outputs, TAR on the undropped, as losses
      -> output

In full-context training a call is one chunk, so each lane keeps its masks for the chunk.
"""

from __future__ import annotations

from word_predictor.backend import keras
from word_predictor.config import Config

layers, ops = keras.layers, keras.ops

TRAINING = "training"  # the view of build_model the regularisers act in


def drop_connect(kernel, rate: float, seed_generator):
    """(units, gates x units) recurrent kernel -> the same with each entry dropped with
    probability `rate` and the rest scaled by 1 / (1 - rate) (Wan et al., 2013). Called
    once per call, before the time loop, so every step of a batch shares one mask and the
    inputs are still projected in one product before the loop."""
    return keras.random.dropout(kernel, rate, seed=seed_generator)


@keras.saving.register_keras_serializable(package="word_predictor")
class LockedDropout(layers.Layer):
    """Variational dropout (Gal and Ghahramani, 2016): (batch, time, features) -> the same,
    with one mask per sequence, (batch, 1, features), the same at every step; a
    (batch, features) input gets a mask per row. Inactive outside training."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.seed = rate, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or not self.rate:
            return inputs
        shape = ops.shape(inputs)
        noise_shape = (shape[0], 1, shape[-1]) if len(inputs.shape) == 3 else None
        return keras.random.dropout(inputs, self.rate, noise_shape=noise_shape, seed=self.seed_generator)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="word_predictor")
class EmbeddingDropout(layers.Layer):
    """Embedding dropout (Gal and Ghahramani, 2016): [tokens (batch, time), their vectors
    (batch, time, features)] -> the vectors, with each word of the vocabulary dropped with
    probability `rate` for the whole batch (every occurrence zeroed, as if its row of the
    embedding matrix were) and the kept ones scaled by 1 / (1 - rate). The matrix itself is
    untouched, so a tied output still scores with every row. Inactive outside training."""

    def __init__(self, rate: float, vocabulary_size: int, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.vocabulary_size, self.seed = rate, vocabulary_size, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        tokens, vectors = inputs
        if not training or not self.rate:
            return vectors
        rows = keras.random.dropout(ops.ones((self.vocabulary_size,), vectors.dtype), self.rate,
                                    seed=self.seed_generator)  # fmt: skip
        return vectors * ops.expand_dims(ops.take(rows, ops.cast(tokens, "int32"), axis=0), -1)

    def compute_output_shape(self, input_shape):
        return input_shape[1]

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "vocabulary_size": self.vocabulary_size,
                "seed": self.seed}  # fmt: skip


@keras.saving.register_keras_serializable(package="word_predictor")
class ActivationRegularisation(layers.Layer):
    """[the last layer's outputs, the same after its dropout] -> the dropped outputs, and in
    training two loss terms (layer.add_loss) that keep the hidden states small and slow:

        AR   activation * mean(dropped ** 2)
        TAR  temporal * mean((undropped[:, t] - undropped[:, t - 1]) ** 2)   (batch, time, units) only

    Each term's sum and the number of training calls are kept in a non-trainable weight
    (as batch normalisation keeps its statistics, which every backend's training step
    carries), for the trainer to show per epoch (training.regularisation)."""

    def __init__(self, activation: float = 0.0, temporal: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.activation, self.temporal = activation, temporal

    def build(self, input_shapes=None):
        # [AR sum, TAR sum, training calls]
        self.totals = self.add_weight(shape=(3,), initializer="zeros", trainable=False, name="totals")

    def call(self, inputs, training=False):
        undropped, dropped = inputs
        if not training:
            return dropped
        ar = self.activation * ops.mean(ops.square(ops.cast(dropped, "float32")))
        tar = ops.zeros(())
        if self.temporal and len(undropped.shape) == 3:
            steps = ops.cast(undropped, "float32")
            tar = self.temporal * ops.mean(ops.square(steps[:, 1:] - steps[:, :-1]))
        self.add_loss(ar + tar)
        self.totals.assign(self.totals + ops.stop_gradient(ops.stack([ar, tar, ops.ones(())])))
        return dropped

    def compute_output_shape(self, input_shapes):
        return input_shapes[1]

    def get_config(self):
        return {**super().get_config(), "activation": self.activation, "temporal": self.temporal}


def dropout_layer(config: Config, view: str, name: str) -> layers.Layer:
    """The dropout after the input or a layer: locked in a training view with locked_dropout."""
    if view == TRAINING and config.locked_dropout:
        return LockedDropout(config.dropout, name=name)
    return layers.Dropout(config.dropout, name=name)


def dropped_words(config: Config, vocabulary_size: int, view: str, tokens, vectors):
    """(batch, time, features) embedded tokens, with whole words dropped in a training view."""
    if view != TRAINING or not config.embedding_dropout:
        return vectors
    dropout = EmbeddingDropout(config.embedding_dropout, vocabulary_size, name="embedding_dropout")
    return dropout([tokens, vectors])


def regularised_output(config: Config, view: str, undropped, dropped):
    """The last layer's dropped outputs, with AR and TAR added as losses in a training view."""
    if view != TRAINING or not (config.activation_regularisation or config.temporal_activation_regularisation):
        return dropped
    return ActivationRegularisation(config.activation_regularisation, config.temporal_activation_regularisation,
                                    name="activation_regularisation")([undropped, dropped])  # fmt: skip


def recurrent_options(config: Config, view: str, use_cudnn) -> dict:
    """What a recurrent layer of this view is made with: weight drop in a training view (whose
    training calls then run the cells' own loop, not the fused kernel: model.cells)."""
    if view != TRAINING or not config.weight_drop:
        return {"use_cudnn": use_cudnn}
    return {"use_cudnn": use_cudnn, "weight_drop": config.weight_drop}
