"""Config -> Keras model. Uses keras and keras.ops only, so any Keras backend runs it.

    tokens (batch, time) int32
      -> Embedding (batch, time, embedding_dim)   or   OneHot (batch, time, vocabulary)
      -> Dropout
      -> [cell, or Bidirectional(cell)] x layers, each followed by Dropout
           every layer returns sequences, except the last one when targets="last"
      -> Dense "next_word" logits: (batch, time, vocabulary) for "all",
                                    (batch, vocabulary) for "last"
         (with --tie-weights the embedding matrix, transposed, plus a bias)

Each run has two views of the same weights, built from the config:

    training view   what fit() trains. Windows: the time axis fixed and unrolled on a
                    CPU. Full context: every recurrent layer is a `CarriedRNN` whose
                    state lives in non-trainable weights, one row per lane, carried
                    from one batch to the next; a (batch,) "reset" input zeroes a lane.
    inference view  what predict, evaluate and generate load: any batch, any length.
                    Full context: the states are explicit inputs and outputs,
                        [tokens, *states] -> [logits, *states]
                    so a caller carries them itself, word by word or chunk by chunk.

`copy_weights(training, inference)` moves the weights across by layer name.
"""

from __future__ import annotations

from word_predictor.backend import keras
from word_predictor.config import CELLS, Config, validate

layers, ops = keras.layers, keras.ops

CELL_LAYERS = {"simple_rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}
assert tuple(CELL_LAYERS) == CELLS
STATES_PER_CELL = {"simple_rnn": 1, "lstm": 2, "gru": 1}  # LSTM carries (h, c)

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


@keras.saving.register_keras_serializable(package="word_predictor")
class LastStep(layers.Layer):
    """(batch, time, features) -> (batch, features): the last position only."""

    def call(self, inputs):
        return inputs[:, -1, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


def _uniform_init():
    """Uniform in +-0.1, as the reference LSTM language models start their embedding and
    output matrices (Keras' defaults are +-0.05 and Glorot, +-0.035 at 200 x 4,703): with
    those a stack of two LSTMs sat at the unigram distribution for its first ~600
    steps on WikiText-2; with these it learns from the start (docs/benchmarks.md, section 9)."""
    return keras.initializers.RandomUniform(-0.1, 0.1)


def _recurrent_layer(cell: str, units: int, use_cudnn, **kwargs):
    # SimpleRNN has no cuDNN kernel and no use_cudnn argument.
    if cell != "simple_rnn":
        kwargs["use_cudnn"] = use_cudnn
    return CELL_LAYERS[cell](units, **kwargs)


@keras.saving.register_keras_serializable(package="word_predictor")
class TiedEmbedding(layers.Embedding):
    """An embedding that also scores: called with reverse=True it maps
    (..., embedding_dim) hidden states to (..., vocabulary) logits through its own
    matrix, transposed, plus a bias (Press & Wolf, 2017; Inan et al., 2017)."""

    def build(self, input_shape=None):
        super().build(input_shape)
        self.bias = self.add_weight(shape=(self.input_dim,), initializer="zeros", name="output_bias")

    def call(self, inputs, reverse: bool = False):
        if not reverse:
            return super().call(inputs)
        return ops.matmul(inputs, ops.transpose(ops.cast(self.embeddings, inputs.dtype))) + ops.cast(
            self.bias, inputs.dtype
        )

    def compute_output_shape(self, input_shape, reverse: bool = False):
        return (*input_shape[:-1], self.input_dim) if reverse else super().compute_output_shape(input_shape)

    # Embedding saves only its matrix (its own format, for quantisation); save the bias too.
    def save_own_variables(self, store):
        layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        layers.Layer.load_own_variables(self, store)

    def compute_output_spec(self, inputs, reverse: bool = False):
        if not reverse:
            return super().compute_output_spec(inputs)
        return keras.KerasTensor(self.compute_output_shape(inputs.shape, reverse=True), dtype=self.compute_dtype)


@keras.saving.register_keras_serializable(package="word_predictor")
class CarriedRNN(layers.Layer):
    """A recurrent layer whose final state is the next call's initial state, per lane.

    Keras' own `stateful=True` does not carry on every backend: on JAX its states
    are not among the model's non-trainable variables, so the stateless training
    step never threads them through. Here the state is kept the way batch
    normalisation keeps its statistics, in non-trainable weights assigned in
    `call`, which every backend's training, evaluation and prediction steps carry.

        (lanes, time, features), reset (lanes,) -> (lanes, time, units)
        state (lanes, units) per LSTM/GRU state: zeroed where reset is 1, then read,
        then overwritten by the final state (no gradient flows across calls)
    """

    def __init__(self, cell: str, units: int, lanes: int, use_cudnn="auto", unroll: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.cell, self.units, self.lanes, self.use_cudnn, self.unroll = cell, units, lanes, use_cudnn, unroll
        self.rnn = _recurrent_layer(
            cell, units, use_cudnn, return_sequences=True, return_state=True, unroll=unroll, name=cell
        )
        self.carried = []

    def build(self, inputs_shape, reset_shape=None):
        self.rnn.build(inputs_shape)
        self.carried = [
            self.add_weight(shape=(self.lanes, self.units), initializer="zeros", trainable=False, name=f"state_{i}")
            for i in range(STATES_PER_CELL[self.cell])
        ]

    def call(self, inputs, reset, training=False):
        keep = ops.cast(1.0 - ops.reshape(ops.cast(reset, "float32"), (-1, 1)), self.compute_dtype)
        initial = [ops.stop_gradient(ops.cast(state, self.compute_dtype)) * keep for state in self.carried]
        sequences, *final = self.rnn(inputs, initial_state=initial, training=training)
        for state, value in zip(self.carried, final):
            state.assign(ops.cast(ops.stop_gradient(value), state.dtype))
        return sequences

    def reset_states(self) -> None:
        for state in self.carried:
            state.assign(ops.zeros_like(state))

    def compute_output_shape(self, inputs_shape, reset_shape=None):
        return (*inputs_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "cell": self.cell, "units": self.units, "lanes": self.lanes, "use_cudnn": self.use_cudnn,
            "unroll": self.unroll,
        }  # fmt: skip


def build_model(config: Config, view: str = "inference", fixed_length: bool = False, use_cudnn="auto") -> keras.Model:
    """An uncompiled model for `config`; `config.vocabulary_size` must be set.

    view="training" builds what fit() trains (see the module docstring), with
    `fixed_length=True` unrolling the time loop (a window model's, or a full-context
    model's bptt steps), which trains faster on a CPU (on a GPU it would forgo the
    cuDNN kernel). view="inference" builds the open-length view that predict,
    evaluate and generate use.
    """
    validate(config)
    if config.vocabulary_size < 2:
        raise ValueError("config.vocabulary_size is filled in from the corpus before building")
    carried = config.context == "full" and view == "training"
    explicit_states = config.context == "full" and view == "inference"
    if carried:
        length = config.bptt
    else:
        length = config.window_size if fixed_length and config.context == "window" else None
    tokens = keras.Input(shape=(length,), dtype="int32", name="tokens", batch_size=config.batch_size if carried else None)
    inputs = {"tokens": tokens}
    if carried:
        inputs["reset"] = keras.Input(shape=(), dtype="float32", name="reset", batch_size=config.batch_size)
    states_in, states_out = [], []
    embedding = None
    if config.one_hot:
        x = OneHot(config.vocabulary_size, name="one_hot")(tokens)
    elif config.tie_weights:
        embedding = TiedEmbedding(
            config.vocabulary_size, config.embedding_dim, embeddings_initializer=_uniform_init(), name="embedding"
        )
        x = embedding(tokens)
    else:
        x = layers.Embedding(
            config.vocabulary_size, config.embedding_dim, embeddings_initializer=_uniform_init(), name="embedding"
        )(tokens)
    x = layers.Dropout(config.dropout, name="input_dropout")(x)
    for number in range(1, config.layers + 1):
        name = f"{config.cell}_{number}"
        returns_sequences = number < config.layers or config.targets == "all" or config.context == "full"
        # Default activations, no recurrent dropout and GRU reset_after=True keep
        # LSTM and GRU eligible for the cuDNN kernel on a GPU; LSTM's
        # unit_forget_bias (on by default) starts the forget gate's bias at 1.
        if carried:
            x = CarriedRNN(config.cell, config.units, config.batch_size, use_cudnn, fixed_length, name=name)(
                x, inputs["reset"]
            )
        elif explicit_states:
            initial = [
                keras.Input(shape=(config.units,), name=f"{name}_state_{i}")
                for i in range(STATES_PER_CELL[config.cell])
            ]
            recurrent = _recurrent_layer(
                config.cell, config.units, use_cudnn, return_sequences=True, return_state=True, name=name
            )
            x, *final = recurrent(x, initial_state=initial)
            states_in += initial
            states_out += final
        else:
            recurrent = _recurrent_layer(
                config.cell, config.units, use_cudnn, return_sequences=returns_sequences, unroll=fixed_length,
                name=name,
            )  # fmt: skip
            if config.bidirectional:
                recurrent = layers.Bidirectional(recurrent, name=f"bidirectional_{number}")
            x = recurrent(x)
        x = layers.Dropout(config.dropout, name=f"dropout_{number}")(x)
    if view == "inference" and config.context == "window" and len(x.shape) == 3:
        x = LastStep(name="last_step")(x)  # predict, evaluate, generate read only the next word
    if embedding is not None:
        logits = embedding(x, reverse=True)
    else:
        logits = layers.Dense(config.vocabulary_size, kernel_initializer=_uniform_init(), name=OUTPUT_LAYER)(x)
    logits = layers.Activation("linear", dtype="float32", name="logits")(logits)  # float32 under mixed precision
    if explicit_states:
        return keras.Model([tokens, *states_in], [logits, *states_out], name=f"word_predictor_{config.cell}")
    return keras.Model(inputs if carried else tokens, logits, name=f"word_predictor_{config.cell}")


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
    CPU, these two 1.01x (docs/benchmarks.md, section 9)."""

    def __init__(self, k: int = 1, name: str | None = None, dtype=None):
        super().__init__(_in_top_k, name=name or f"top{k}_accuracy", dtype=dtype, k=k)
        self.k = k

    def get_config(self):
        return {"k": self.k, "name": self.name, "dtype": self.dtype}


def compile_model(model: keras.Model, config: Config) -> None:
    optimizer = keras.optimizers.Adam(
        learning_rate=config.learning_rate, clipnorm=config.clip_norm if config.clip_norm > 0 else None
    )
    model.compile(
        optimizer=optimizer,
        # Divide by the sum of weights, so a validation batch weighted 0 ... 0 1
        # gives the mean over its last positions, and padding (weight 0) counts for nothing.
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight"),
        weighted_metrics=[InTopK(1, name="accuracy"), InTopK(5, name="top5_accuracy")],
    )
    # Made now rather than inside the first training step: on TensorFlow a step that
    # creates variables is traced twice, ~3 s for an unrolled 2 x 200 LSTM (section 9).
    model.optimizer.build(model.trainable_variables)


def copy_weights(source: keras.Model, target: keras.Model) -> keras.Model:
    """Set `target`'s weights from the layers of the same name in `source`; returns `target`.

    The two may be different views of one config: a CarriedRNN gives its inner
    layer's weights (its carried state is not a weight of the other view).
    """
    for layer in target.layers:
        if not layer.weights:
            continue
        origin = source.get_layer(layer.name)
        if isinstance(origin, CarriedRNN) and not isinstance(layer, CarriedRNN):
            origin = origin.rnn
        layer.set_weights(origin.get_weights())
    return target


def reset_carried_states(model: keras.Model) -> None:
    for layer in model.layers:
        if isinstance(layer, CarriedRNN):
            layer.reset_states()
