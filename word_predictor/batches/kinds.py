"""What each context answers without Keras: the questions the settings, the model factory,
the predictor, the exporter and the runtime ask, so none of them asks which context a run has.

    WindowKind   "window"  the model reads the last `window_size` tokens; nothing is carried
                           from one call to the next
    FullKind     "full"    the model reads the running text; its recurrent state is carried
                           between chunks in training and between calls at inference

windows.WindowContext and full_context.FullContext are these with the Keras parts (batches,
the training view, readers); this module imports nothing, so word_predictor.config and
word_predictor.runtime read it without Keras (package __init__ loads the Keras parts lazily).
"""

from __future__ import annotations

from collections.abc import Sequence


class ContextKind:
    """The static answers of one context, for one run's settings (a word_predictor.config.Config,
    which imports this module, so it is not named here)."""

    name: str
    summary: str  # one line for --help and the docs
    default_batch_size: int  # windows per step, or lanes
    length_setting: str  # the setting that says how many tokens one example reads
    unused_settings: frozenset[str]  # settings this context leaves unused (they describe nothing)
    trains_with_carried_state: bool  # the training view carries its state from one batch to the next
    explicit_states: bool  # the inference view takes each state as an input and gives it back as an output
    answers_every_position: bool  # inference gives (batch, time, vocabulary) logits, else (batch, vocabulary)
    allows_bidirectional: bool  # whether reading the text after each word gives nothing away

    def __init__(self, config):
        self.config = config

    @property
    def longest_context(self) -> int | None:
        """The most tokens of a text the model reads (None: all of it)."""
        raise NotImplementedError

    @property
    def step_length(self) -> int:
        """The tokens one call of a fixed-length inference step reads (LiteRT's input)."""
        raise NotImplementedError

    @property
    def example_length(self) -> int:
        """The tokens one training example reads: a window, or a chunk of `bptt`."""
        return getattr(self.config, self.length_setting)

    def cut(self, tokens: Sequence) -> Sequence:
        """The tokens the model reads of `tokens`: the last window, or all of them."""
        longest = self.longest_context
        return tokens[-longest:] if longest is not None else tokens


class WindowKind(ContextKind):
    name = "window"
    summary = "the model reads the last --window-size words"
    default_batch_size = 128
    length_setting = "window_size"
    unused_settings = frozenset({"bptt"})
    trains_with_carried_state = False
    explicit_states = False
    answers_every_position = False  # predict, evaluate and generate read only the next word
    allows_bidirectional = True

    @property
    def longest_context(self) -> int:
        return self.config.window_size

    @property
    def step_length(self) -> int:
        return self.config.window_size


class FullKind(ContextKind):
    name = "full"
    summary = "the model reads the whole text, carrying its state in chunks of --bptt"
    # Lanes read the text once per epoch, so fewer, longer batches than windows.
    default_batch_size = 32
    length_setting = "bptt"
    unused_settings = frozenset({"window_size"})
    trains_with_carried_state = True
    explicit_states = True
    answers_every_position = True
    # A bidirectional layer reads the text after each word, which full-context training hands it as the answer.
    allows_bidirectional = False

    @property
    def longest_context(self) -> None:
        return None

    @property
    def step_length(self) -> int:
        return 1  # one token per call, the state carried by the caller


# The one list of contexts: by the name `--context` takes.
KINDS: dict[str, type[ContextKind]] = {kind.name: kind for kind in (WindowKind, FullKind)}
CONTEXTS = tuple(KINDS)


def kind_of(config) -> ContextKind:
    """The static answers of `config`'s context; ValueError names the valid ones."""
    if config.context not in KINDS:
        raise ValueError(f"unknown context {config.context!r}; choose one of {', '.join(CONTEXTS)}")
    return KINDS[config.context](config)
