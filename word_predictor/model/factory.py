"""Settings and the corpus' facts -> Keras model."""

from __future__ import annotations

from word_predictor.backend import keras
from word_predictor.batches.kinds import kind_of
from word_predictor.config import Config, CorpusFacts, validate
from word_predictor.model import regularisers
from word_predictor.model.layers import (
    OUTPUT_LAYER,
    STATES_PER_CELL,
    CarriedRNN,
    LastStep,
    OneHot,
    TiedEmbedding,
    recurrent_layer,
    uniform_init,
)

layers = keras.layers
TIED_PROJECTION = "tied_projection"  # the last layer's outputs -> the tied embedding's width


def build_model(
    config: Config, facts: CorpusFacts, view: str = "inference", fixed_length: bool = False, use_cudnn="auto"
) -> keras.Model:
    """An uncompiled model for `config` over the vocabulary `facts` found.

    view="training" builds what fit() trains (see the module docstring), with
    `fixed_length=True` unrolling the time loop (a window model's, or a full-context
    model's bptt steps), which trains faster on a CPU (on a GPU it would forgo the
    cuDNN kernel); a full-context inference view then reads one token per call, unrolled
    (the step LiteRT runs). view="inference" builds the open-length view that predict,
    evaluate and generate use.
    """
    validate(config)
    if facts.vocabulary_size < 2:
        raise ValueError("facts.vocabulary_size (from the corpus) must be at least 2 to build a model")
    context = kind_of(config)
    carried = context.trains_with_carried_state and view == "training"
    if carried:
        length = context.example_length
    elif fixed_length:  # a window's length; a full-context inference view reads one token per call (LiteRT)
        length = context.step_length
    else:
        length = None
    tokens = keras.Input(shape=(length,), dtype="int32", name="tokens", batch_size=config.batch_size if carried else None)
    inputs = {"tokens": tokens}
    if carried:
        inputs["reset"] = keras.Input(shape=(), dtype="float32", name="reset", batch_size=config.batch_size)
    x, embedding = _embedded(config, facts.vocabulary_size, view, tokens)
    x, states_in, states_out = _recurrent_stack(config, view, x, inputs.get("reset"), fixed_length, use_cudnn)
    if view == "inference" and not context.answers_every_position and len(x.shape) == 3:
        x = LastStep(name="last_step")(x)  # predict, evaluate, generate read only the next word
    if embedding is not None:
        logits = embedding(_tied_projection(config)(x), reverse=True)
    else:
        logits = layers.Dense(facts.vocabulary_size, kernel_initializer=uniform_init(), name=OUTPUT_LAYER)(x)
    logits = layers.Activation("linear", dtype="float32", name="logits")(logits)  # float32 under mixed precision
    if context.explicit_states and view == "inference":  # the states go in and come out explicitly
        return keras.Model([tokens, *states_in], [logits, *states_out], name=f"word_predictor_{config.cell}")
    return keras.Model(inputs if carried else tokens, logits, name=f"word_predictor_{config.cell}")


def _embedded(config: Config, vocabulary_size: int, view: str, tokens):
    """(batch, time) ids -> (batch, time, features) after the input dropout, and the
    embedding layer when the output reuses it (tie_weights), else None."""
    embedding = None
    if config.one_hot:
        x = OneHot(vocabulary_size, name="one_hot")(tokens)
    elif config.tie_weights:
        embedding = TiedEmbedding(
            vocabulary_size, config.embedding_dim, embeddings_initializer=uniform_init(), name="embedding"
        )
        x = embedding(tokens)
    else:
        x = layers.Embedding(
            vocabulary_size, config.embedding_dim, embeddings_initializer=uniform_init(), name="embedding"
        )(tokens)
    x = regularisers.dropped_words(config, vocabulary_size, view, tokens, x)
    return regularisers.dropout_layer(config, view, "input_dropout")(x), embedding


def _tied_projection(config: Config):
    """The last layer's outputs -> the embedding's width, for a tied output whose embedding
    is not as wide as the last layer (a Dense without bias, as in Inan et al., 2017); the
    identity when they are as wide."""
    if config.embedding_dim == config.units:
        return lambda x: x
    return layers.Dense(config.embedding_dim, use_bias=False, kernel_initializer=uniform_init(),
                        name=TIED_PROJECTION)  # fmt: skip


def _recurrent_stack(config: Config, view: str, x, reset, fixed_length: bool, use_cudnn):
    """The recurrent layers, each followed by dropout; returns the output and, for a
    full-context inference view, the state inputs and outputs (else empty lists)."""
    context = kind_of(config)
    carried = context.trains_with_carried_state and view == "training"
    explicit_states = context.explicit_states and view == "inference"
    states_in, states_out = [], []
    options = regularisers.recurrent_options(config, view, use_cudnn)  # weight drop in training
    for number in range(1, config.layers + 1):
        name = f"{config.cell}_{number}"
        returns_sequences = number < config.layers or config.targets == "all" or context.answers_every_position
        # Default activations, no recurrent dropout and GRU reset_after=True keep
        # LSTM and GRU eligible for the cuDNN kernel on a GPU; LSTM's
        # unit_forget_bias (on by default) starts the forget gate's bias at 1.
        if carried:
            x = CarriedRNN(config.cell, config.units, config.batch_size, unroll=fixed_length, name=name,
                           **options)(x, reset)  # fmt: skip
        elif explicit_states:
            initial = [keras.Input(shape=(config.units,), name=f"{name}_state_{i}")
                       for i in range(STATES_PER_CELL[config.cell])]  # fmt: skip
            recurrent = recurrent_layer(
                config.cell, config.units, use_cudnn, return_sequences=True, return_state=True,
                unroll=fixed_length, name=name,
            )  # fmt: skip
            x, *final = recurrent(x, initial_state=initial)
            states_in += initial
            states_out += final
        else:
            recurrent = recurrent_layer(
                config.cell, config.units, return_sequences=returns_sequences, unroll=fixed_length, name=name,
                **options,
            )  # fmt: skip
            if config.bidirectional:
                recurrent = layers.Bidirectional(recurrent, name=f"bidirectional_{number}")
            x = recurrent(x)
        dropped = regularisers.dropout_layer(config, view, f"dropout_{number}")(x)
        x = regularisers.regularised_output(config, view, x, dropped) if number == config.layers else dropped
    return x, states_in, states_out


def layer_stages(model: keras.Model, config: Config) -> list[keras.Model]:
    """A full-context inference view cut after each recurrent layer into models that share
    its layers and weights, so that layer k can read one chunk while layer k - 1 reads
    the next (StreamReader.read):

        stage 1     [tokens, *states of layer 1]      -> [its outputs (batch, time, units), *its states]
        stage k     [outputs of stage k - 1, *states] -> [its outputs, *its states]
        the last    ...                               -> [logits, *its states]
    """
    stages = []
    for number in range(1, config.layers + 1):
        name = f"{config.cell}_{number}"
        if number == 1:
            inputs = keras.Input(shape=(None,), dtype="int32", name="tokens")
            x = model.get_layer("input_dropout")(model.get_layer("one_hot" if config.one_hot else "embedding")(inputs))
        else:
            inputs = x = keras.Input(shape=(None, config.units), name=f"{name}_inputs")
        states = [keras.Input(shape=(config.units,), name=f"{name}_state_{i}") for i in range(STATES_PER_CELL[config.cell])]
        x, *final = model.get_layer(name)(x, initial_state=states)
        x = model.get_layer(f"dropout_{number}")(x)
        if number == config.layers:
            head = model.get_layer("embedding") if config.tie_weights else None  # never with one-hot
            if head and config.embedding_dim != config.units:
                x = model.get_layer(TIED_PROJECTION)(x)
            x = model.get_layer("logits")(head(x, reverse=True) if head else model.get_layer(OUTPUT_LAYER)(x))
        stages.append(keras.Model([inputs, *states], [x, *final], name=f"stage_{number}"))
    return stages


GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


def parameter_count(config: Config, facts: CorpusFacts) -> int:
    """The weights build_model(config, facts) makes, counted without building it (a model too
    big to build is refused by this number, not by an allocation failure)."""
    vocabulary = facts.vocabulary_size
    width = vocabulary if config.one_hot else config.embedding_dim
    count = 0 if config.one_hot else vocabulary * config.embedding_dim
    directions = 2 if config.bidirectional else 1
    biases = 2 if config.cell == "gru" else 1  # GRU's reset_after keeps a second bias
    for _ in range(config.layers):
        units = config.units
        count += directions * GATES[config.cell] * (width * units + units * units + biases * units)
        width = directions * units
    if config.tie_weights:
        return count + (0 if width == config.embedding_dim else width * config.embedding_dim) + vocabulary
    return count + width * vocabulary + vocabulary


def copy_weights(source: keras.Model, target: keras.Model) -> keras.Model:
    """Set `target`'s weights from the layers of the same name in `source`; returns `target`.

    The two may be different views of one config: a CarriedRNN gives (or takes) its inner
    layer's weights (its carried state is not a weight of the other view), and a training
    view's layers that hold no trainable weight (the AR/TAR totals) keep their own.
    """
    names = {layer.name for layer in source.layers}
    for layer in target.layers:
        if not layer.weights or (layer.name not in names and not layer.trainable_weights):
            continue
        origin = source.get_layer(layer.name)
        if isinstance(origin, CarriedRNN) and not isinstance(layer, CarriedRNN):
            origin = origin.rnn
        elif isinstance(layer, CarriedRNN) and not isinstance(origin, CarriedRNN):
            layer = layer.rnn
        layer.set_weights(origin.get_weights())
    return target
