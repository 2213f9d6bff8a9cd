"""The loss, the metrics (ranked as evaluate ranks them) and the optimizer."""

from __future__ import annotations

from word_predictor.backend import keras
from word_predictor.config import Config

ops = keras.ops


def target_rank(targets, logits):
    """How many tokens score strictly above each target (0: a top-1 hit), as evaluate ranks them."""
    targets = ops.reshape(ops.cast(targets, "int32"), ops.shape(logits)[:-1])
    chosen = ops.take_along_axis(logits, ops.expand_dims(targets, -1), axis=-1)
    return ops.sum(ops.cast(ops.greater(logits, chosen), "float32"), axis=-1)


def _in_top_k(targets, logits, k: int):
    return ops.cast(target_rank(targets, logits) < k, "float32")


@keras.saving.register_keras_serializable(package="word_predictor")
class InTopK(keras.metrics.MeanMetricWrapper):
    """Share of targets among the k best-scored tokens, ties in the target's favour (as
    tf.math.in_top_k and evaluate count them). One comparison pass over the logits: Keras'
    SparseCategoricalAccuracy and SparseTopKCategoricalAccuracy (argmax and in_top_k
    kernels) made a 2 x 200 LSTM's training step 1.07-1.14x slower than no metrics on a
    CPU, these two 1.01x (docs/benchmarks-log.md, "Full context against the PyTorch
    word-language-model recipe")."""

    def __init__(self, k: int = 1, name: str | None = None, dtype=None):
        super().__init__(_in_top_k, name=name or f"top{k}_accuracy", dtype=dtype, k=k)
        self.k = k

    def get_config(self):
        return {"k": self.k, "name": self.name, "dtype": self.dtype}


# config.OPTIMIZERS -> the Keras optimiser. SGD is the AWD-LSTM's (with a large rate and
# clipping); with weight_averaging the optimiser keeps a moving average of every weight
# (Keras' use_ema), which training.regularisation validates and keeps in place of the weights.
OPTIMIZER_CLASSES = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}
AVERAGING_MOMENTUM = 0.99  # Keras' default: the average of about the last 100 steps


def make_optimizer(config: Config) -> keras.optimizers.Optimizer:
    return OPTIMIZER_CLASSES[config.optimizer](
        learning_rate=config.learning_rate, clipnorm=config.clip_norm if config.clip_norm > 0 else None,
        use_ema=config.weight_averaging, ema_momentum=AVERAGING_MOMENTUM,
    )  # fmt: skip


def compile_model(model: keras.Model, config: Config) -> None:
    optimizer = make_optimizer(config)
    model.compile(
        optimizer=optimizer,
        # Divide by the sum of weights, so a validation batch weighted 0 ... 0 1
        # gives the mean over its last positions, and padding (weight 0) counts for nothing.
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight"),
        weighted_metrics=[InTopK(1, name="accuracy"), InTopK(5, name="top5_accuracy")],
    )
    # Made now rather than inside the first training step: on TensorFlow a step that
    # creates variables is traced twice, ~3 s for an unrolled 2 x 200 LSTM (docs/benchmarks-log.md,
    # "Full context against the PyTorch word-language-model recipe").
    model.optimizer.build(model.trainable_variables)

