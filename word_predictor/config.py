"""What the user chose (Config: frozen, filled once by the command) and, beside it, what the
corpus found (CorpusFacts: filled once by the trainer); the model factory and the trainer
take both as arguments and write neither. config.json records both, versioned."""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path

import pydantic

from word_predictor import folder_files
from word_predictor.errors import SettingError  # noqa: F401  (the settings' error, raised here and by callers)
from word_predictor.batches.kinds import CONTEXTS, KINDS, WindowKind, kind_of

CELLS = ("simple_rnn", "lstm", "gru")
STATES_PER_CELL = {"simple_rnn": 1, "lstm": 2, "gru": 1}  # the state rows a cell carries: an LSTM's h and c
TARGETS = ("all", "last")
LEVELS = ("word", "char")  # what one token is
NORMALISATIONS = ("unicode", "ascii")  # real-world text, or the original study's a-z rule
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
DEFAULT_PROMPT = "some of them looks like"  # the original study's question; also a TensorBoard sample
HELD_OUT_SPLITS = ("validation", "test")
OPTIMIZERS = ("adam", "sgd")  # model.compile makes each  # a share of the corpus, or texts given as --SPLIT-text

CONFIG_FORMAT = "word_predictor.config/3"  # settings and facts apart
# Older formats this version still reads, with how their settings map to today's: formats 1
# and 2 kept the facts among the settings, and format 1 left some settings out.
_FORMAT_1 = "word_predictor.config/1"
_RECORDS_EVERY_SETTING = ("word_predictor.config/2", CONFIG_FORMAT)
_READABLE_FORMATS = (_FORMAT_1, *_RECORDS_EVERY_SETTING)
_RENAMED = {"chunk_size": "window_size"}
# Settings a format-1 run never recorded, with the value it used.
_FORMAT_1_VALUES = {"normalisation": "ascii", "level": "word", "context": "window", "max_vocabulary": 0}

# What a setting left out (None) means at each level: characters are read as the running
# text, in longer chunks (a word is several characters), through a smaller embedding, by two
# layers with light dropout (the best measured on 2 CPU cores: docs/benchmarks.md, "Character level").
LEVEL_DEFAULTS = {
    "word": {"context": "window", "bptt": 35, "embedding_dim": 128, "layers": 1, "dropout": 0.5},
    "char": {"context": "full", "bptt": 100, "embedding_dim": 64, "layers": 2, "dropout": 0.2},
}
HELD_OUT_FRACTION = {"validation": 0.1, "test": 0.2}  # a share of the corpus when no text is given

# A run continued from a trained one (train --from RUN) keeps what decides its vocabulary and its
# model's shape; it reads new text (the text settings, its own); the rest (training, regularisation,
# monitoring) are the trained run's unless given again.
VOCABULARY_SETTINGS = ("level", "normalisation", "unknown_threshold", "max_vocabulary")
MODEL_SETTINGS = ("cell", "bidirectional", "layers", "units", "embedding_dim", "one_hot", "targets", "tie_weights",
                  "context", "window_size", "bptt")  # fmt: skip
TEXT_SETTINGS = ("corpus", "validation_fraction", "test_fraction", "validation_text", "test_text", "encoding_errors")


@dataclass(frozen=True)
class Config:
    # data
    corpus: list[str] = field(default_factory=lambda: ["corpus"])
    level: str = "word"
    normalisation: str = "unicode"
    unknown_threshold: int = 3
    # the most frequent tokens kept (0: no limit): a keyboard's dictionary size, so that the model
    # and its optimizer stop growing with the corpus (docs/training.md, "The vocabulary")
    max_vocabulary: int = 50_000
    # None (here and below): what leaving the setting out means, resolved in __post_init__
    validation_fraction: float | None = None  # 0.1, or 0 with validation_text
    test_fraction: float | None = None  # 0.2, or 0 with test_text
    # texts given as the held-out splits instead of shares of the corpus (absolute paths)
    validation_text: list[str] = field(default_factory=list)
    test_text: list[str] = field(default_factory=list)
    encoding_errors: str = "strict"
    # model
    cell: str = "lstm"
    bidirectional: bool = False
    layers: int | None = None  # LEVEL_DEFAULTS
    units: int = 256
    embedding_dim: int | None = None  # LEVEL_DEFAULTS
    one_hot: bool = False
    dropout: float | None = None  # LEVEL_DEFAULTS
    targets: str | None = None  # "all", or "last" when bidirectional
    tie_weights: bool = False
    # how the text is fed: windows of `window_size` tokens, or lanes read in
    # chunks of `bptt` tokens with the state carried from chunk to chunk
    context: str | None = None  # LEVEL_DEFAULTS
    window_size: int = 5
    bptt: int | None = None  # LEVEL_DEFAULTS
    # training
    epochs: int = 20
    batch_size: int | None = None  # windows per step, or lanes: the context's default_batch_size
    learning_rate: float = 0.005
    clip_norm: float = 1.0
    patience: int = 3
    seed: int = 0
    time_limit: float = 0.0  # minutes; 0: none
    precision: str = "float32"
    # regularisation: training-only (model.regularisers), each off by default
    locked_dropout: bool = False  # the dropout layers keep one mask per sequence (variational dropout)
    weight_drop: float = 0.0  # DropConnect on each recurrent kernel, one mask per batch
    embedding_dropout: float = 0.0  # whole words dropped from the embedding, one mask per batch
    activation_regularisation: float = 0.0  # AR: this x mean(h^2) of the last layer's dropped outputs
    temporal_activation_regularisation: float = 0.0  # TAR: this x mean((h_t - h_t-1)^2), undropped
    optimizer: str = "adam"  # OPTIMIZERS
    weight_averaging: bool = False  # keep (and validate) the moving average of the weights
    lr_patience: int = 0  # epochs without a better validation loss let pass before the rate halves at one
    # monitoring
    log_every: int = 20
    histograms: bool = False
    sample_prompts: list[str] = field(default_factory=list)

    def __post_init__(self):
        """Fill each setting left out (None) with what it means for this level, context
        and the held-out texts, so Config(level="char") is what `train --level char` builds.
        (The one place a Config is written: frozen, it is set through object.__setattr__.)"""
        filled = dict(LEVEL_DEFAULTS.get(self.level, LEVEL_DEFAULTS["word"]))
        context = filled["context"] if self.context is None else self.context
        filled["batch_size"] = KINDS.get(context, WindowKind).default_batch_size
        filled["targets"] = "last" if self.bidirectional else "all"
        for split, share in HELD_OUT_FRACTION.items():
            filled[f"{split}_fraction"] = 0.0 if getattr(self, f"{split}_text") else share
        for name, value in filled.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Config:
        names = {f.name for f in dataclasses.fields(cls)}
        data = {_RENAMED.get(k, k): v for k, v in data.items()}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def from_run_settings(cls, data: dict, config_format: str = CONFIG_FORMAT) -> Config:
        """The settings of a run's config.json, in the given format, as today's Config."""
        if config_format not in _RECORDS_EVERY_SETTING:
            data = {**_FORMAT_1_VALUES, **data}
        return cls.from_dict(data)


@dataclass(frozen=True)
class CorpusFacts:
    """What the corpus found: filled once by the trainer (corpus.splits.Corpus.facts), passed
    beside the settings to the model factory, and recorded in config.json."""

    vocabulary_size: int = 0
    corpus_tokens: int = 0
    train_tokens: int = 0
    validation_tokens: int = 0
    test_tokens: int = 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CorpusFacts:
        """The facts among `data`'s keys (other keys ignored; a missing fact is 0, unknown)."""
        values = {f.name: data.get(f.name, 0) for f in dataclasses.fields(cls)}
        return cls(**{name: value if isinstance(value, int) else 0 for name, value in values.items()})


def unused_settings(config: Config) -> set[str]:
    """The settings this run does not use: they keep a default that describes nothing."""
    return set(kind_of(config).unused_settings) | ({"embedding_dim"} if config.one_hot else set())


def validate(config: Config) -> None:
    """Fail early, with the valid choices, before any data is read (SettingError)."""
    for name, choices in (("level", LEVELS), ("cell", CELLS), ("context", CONTEXTS), ("targets", TARGETS)):
        if getattr(config, name) not in choices:
            raise SettingError("unknown {%s} {value!r}; choose one of {choices}" % name,
                               value=getattr(config, name), choices=", ".join(choices))
    if config.bidirectional and not kind_of(config).allows_bidirectional:
        raise SettingError(
            "a bidirectional layer reads the text after each word, which full-context training "
            "would hand it as the answer; drop {bidirectional} or use {context} window"
        )
    if config.bidirectional and config.targets == "all":
        raise SettingError(
            "a bidirectional layer sees the words after each position, so it cannot predict "
            "every position; use {targets} last with {bidirectional}"
        )
    sizes = ("layers", "units", "window_size", "bptt", "embedding_dim", "batch_size")
    if any(getattr(config, name) < 1 for name in sizes):
        raise SettingError(", ".join("{%s}" % name for name in sizes) + " must each be at least 1")
    if not 0.0 <= config.dropout < 1.0:
        raise SettingError("{dropout} must be in [0, 1)")
    if config.tie_weights:
        _validate_tied(config)
    _validate_regularisation(config)


def _validate_regularisation(config: Config) -> None:
    if config.optimizer not in OPTIMIZERS:
        raise SettingError("unknown {optimizer} {value!r}; choose one of {choices}", value=config.optimizer,
                           choices=", ".join(OPTIMIZERS))  # fmt: skip
    for name in ("weight_drop", "embedding_dropout"):
        if not 0.0 <= getattr(config, name) < 1.0:
            raise SettingError("{%s} must be at least 0 and below 1" % name)
    for name in ("activation_regularisation", "temporal_activation_regularisation"):
        if not 0.0 <= getattr(config, name) < float("inf"):
            raise SettingError("{%s} must be a number of at least 0" % name)
    if config.lr_patience < 0:
        raise SettingError("{lr_patience} must be at least 0")
    if config.locked_dropout and not config.dropout:
        raise SettingError("{locked_dropout} locks the masks of {dropout}, which is 0; set {dropout} above 0")
    if config.embedding_dropout and config.one_hot:
        raise SettingError("{embedding_dropout} drops words from the embedding, and a one-hot model ({one_hot}) "
                           "has none")  # fmt: skip
    if config.temporal_activation_regularisation and config.targets == "last":
        raise SettingError("{temporal_activation_regularisation} compares the last layer's outputs step to step, "
                           "and with {targets} last it gives only the last; use {targets} all")  # fmt: skip


def _validate_tied(config: Config) -> None:
    if config.one_hot:
        raise SettingError("{tie_weights} reuses the embedding, and a one-hot model ({one_hot}) has none")
    if config.bidirectional:
        raise SettingError("{tie_weights} needs one direction: a bidirectional layer gives 2 x {units} outputs")


def config_json(config: Config, facts: CorpusFacts, **extra) -> str:
    """JSON text of the settings, the corpus' facts and provenance (command line, versions, hashes),
    with a hash over the settings: they decide how the model is read, so an edit is refused."""
    settings = config.to_dict()
    return json.dumps({"format": CONFIG_FORMAT, "settings": settings, "settings_sha256": folder_files.json_sha256(settings),
                       "facts": facts.to_dict(), **extra}, indent=2)  # fmt: skip


def facts_from(data: dict) -> CorpusFacts:
    """The corpus' facts of a config.json's `data` in any format this version reads (formats 1
    and 2 kept them among the settings); all 0 where it holds none."""
    if not isinstance(data, dict):
        return CorpusFacts()
    facts = data.get("facts") if data.get("format") not in (_FORMAT_1, "word_predictor.config/2") else data.get("settings")
    return CorpusFacts.from_dict(facts) if isinstance(facts, dict) else CorpusFacts()


def load_config(path: Path) -> tuple[Config, dict]:
    """A run's config.json as (Config, the whole file): its schema, its settings' hash and
    their values checked (folder_files.ConfigFile, checked_settings); ValueError says why not."""
    data = folder_files.read_json(path)
    found = data.get("format") if isinstance(data, dict) else type(data).__name__
    if found not in _READABLE_FORMATS:
        raise ValueError(f"not a word_predictor config this version reads (format {found!r})")
    config_file = folder_files.parse(data, folder_files.ConfigFile)
    config_file.check_hash()
    return checked_settings(config_file.settings, config_file.format), data


# Ranges beyond validate()'s: what the trainer would otherwise meet as a crash or a silent oddity.
_AT_LEAST = {"epochs": 1, "unknown_threshold": 0, "max_vocabulary": 0, "patience": 0, "log_every": 0,
             "time_limit": 0.0, "clip_norm": 0.0}  # fmt: skip


def checked_settings(settings: dict, config_format: str = CONFIG_FORMAT) -> Config:
    """Recorded settings (a run's config.json, an export's manifest) as a Config, each value
    of its field's type (a string is never taken for a number) and in its range; ValueError
    (a SettingError) naming the setting otherwise."""
    if config_format not in _RECORDS_EVERY_SETTING:
        settings = {**_FORMAT_1_VALUES, **settings}
    names = {f.name for f in dataclasses.fields(Config)}
    settings = {_RENAMED.get(k, k): v for k, v in settings.items()}
    try:
        checked = _SettingsSchema.model_validate({k: v for k, v in settings.items() if k in names})
    except pydantic.ValidationError as error:
        raise ValueError(f"settings.{folder_files.problem_of(error)}") from None
    config = Config(**{name: getattr(checked, name) for name in checked.model_fields_set})
    for name, least in _AT_LEAST.items():
        if getattr(config, name) < least:
            raise SettingError("{%s} must be at least {least}" % name, least=least)
    if not config.learning_rate > 0 or not all(0 <= getattr(config, f"{s}_fraction") < 1 for s in HELD_OUT_FRACTION):
        raise SettingError("{learning_rate} must be above 0, and each held-out fraction in [0, 1)")
    if config.normalisation not in NORMALISATIONS:
        raise SettingError("unknown {normalisation} {value!r}; choose one of {choices}", value=config.normalisation,
                           choices=", ".join(NORMALISATIONS))
    validate(config)
    return config


# Config's fields with their types, strictly (JSON's types: no "5" for 5, no 1 for true); a
# field left out keeps Config's default.
_SettingsSchema = pydantic.create_model(
    "Settings", __config__=pydantic.ConfigDict(strict=True),
    **{name: (kind, None) for name, kind in typing.get_type_hints(Config).items()},
)  # fmt: skip
