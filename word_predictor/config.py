"""The one configuration object: the CLI fills the settings, the corpus fills what
comes from the data, the model factory and the trainer only read it."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

CELLS = ("simple_rnn", "lstm", "gru")
TARGETS = ("all", "last")
CONTEXTS = ("window", "full")  # a sliding window of words, or the running text with carried state
LEVELS = ("word", "char")  # what one token is
NORMALISATIONS = ("unicode", "ascii")  # real-world text, or the original study's a-z rule
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
DEFAULT_PROMPT = "some of them looks like"  # the original study's question; also a TensorBoard sample
HELD_OUT_SPLITS = ("validation", "test")  # a share of the corpus, or texts given as --SPLIT-text

CONFIG_FORMAT = "word_predictor.config/2"
# Older formats this version still reads, with how their settings map to today's.
_READABLE_FORMATS = ("word_predictor.config/1", CONFIG_FORMAT)
_RENAMED = {"chunk_size": "window_size"}
# Settings a format-1 run never recorded, with the value it used.
_FORMAT_1_VALUES = {"normalisation": "ascii", "level": "word", "context": "window"}


@dataclass
class Config:
    # data
    corpus: list[str] = field(default_factory=lambda: ["corpus"])
    level: str = "word"
    normalisation: str = "unicode"
    unknown_threshold: int = 3
    max_vocabulary: int = 0  # 0: no limit
    validation_fraction: float = 0.1
    test_fraction: float = 0.2
    # texts given as the held-out splits instead of shares of the corpus (absolute paths)
    validation_text: list[str] = field(default_factory=list)
    test_text: list[str] = field(default_factory=list)
    encoding_errors: str = "strict"
    # model
    cell: str = "lstm"
    bidirectional: bool = False
    layers: int = 1
    units: int = 256
    embedding_dim: int = 128
    one_hot: bool = False
    dropout: float = 0.5
    targets: str = "all"
    tie_weights: bool = False
    # how the text is fed: windows of `window_size` tokens, or lanes read in
    # chunks of `bptt` tokens with the state carried from chunk to chunk
    context: str = "window"
    window_size: int = 5
    bptt: int = 35
    # training
    epochs: int = 20
    batch_size: int = 128
    learning_rate: float = 0.005
    clip_norm: float = 1.0
    patience: int = 3
    seed: int = 0
    time_limit: float = 0.0  # minutes; 0: none
    precision: str = "float32"
    # monitoring
    log_every: int = 20
    histograms: bool = False
    sample_prompts: list[str] = field(default_factory=list)
    # filled in from the data
    vocabulary_size: int = 0
    corpus_tokens: int = 0
    train_tokens: int = 0
    validation_tokens: int = 0
    test_tokens: int = 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Config:
        names = {f.name for f in dataclasses.fields(cls)}
        data = {_RENAMED.get(k, k): v for k, v in data.items()}
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def input_description(self) -> str:
        return "one-hot" if self.one_hot else f"embedding {self.embedding_dim}"


def validate(config: Config) -> None:
    """Fail early, with the valid choices, before any data is read."""
    if config.cell not in CELLS:
        raise ValueError(f"unknown cell {config.cell!r}; choose one of {', '.join(CELLS)}")
    if config.context not in CONTEXTS:
        raise ValueError(f"unknown context {config.context!r}; choose one of {', '.join(CONTEXTS)}")
    if config.bidirectional and config.context == "full":
        raise ValueError(
            "a bidirectional layer reads the text after each word, which full-context training "
            "would hand it as the answer; drop --bidirectional or use --context window"
        )
    if config.bidirectional and config.targets == "all":
        raise ValueError(
            "a bidirectional layer sees the words after each position, so it cannot predict "
            "every position; use --targets last with --bidirectional"
        )
    if config.layers < 1 or config.units < 1 or config.window_size < 1 or config.embedding_dim < 1 or config.bptt < 1:
        raise ValueError("--layers, --units, --window-size, --bptt and --embedding-dim must be at least 1")
    if not 0.0 <= config.dropout < 1.0:
        raise ValueError("--dropout must be in [0, 1)")
    if config.tie_weights:
        if config.one_hot:
            raise ValueError("--tie-weights reuses the embedding, and a --one-hot model has none")
        if config.bidirectional:
            raise ValueError("--tie-weights needs one direction: a bidirectional layer gives 2 x --units outputs")
        if config.embedding_dim != config.units:
            raise ValueError(
                f"--tie-weights needs the embedding size ({config.embedding_dim}) to equal the last "
                f"layer's units ({config.units}); set --embedding-dim {config.units}"
            )


def config_json(config: Config, **extra) -> str:
    """JSON text of the config plus provenance (command line, versions, hashes)."""
    return json.dumps({"format": CONFIG_FORMAT, "settings": config.to_dict(), **extra}, indent=2)


def load_config(path: Path) -> tuple[Config, dict]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") not in _READABLE_FORMATS:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"not a word_predictor config this version reads (format {found!r})")
    settings = data.get("settings")
    if not isinstance(settings, dict):
        raise ValueError("config.json holds no settings")
    if data["format"] != CONFIG_FORMAT:
        settings = {**_FORMAT_1_VALUES, **settings}
    return Config.from_dict(settings), data
