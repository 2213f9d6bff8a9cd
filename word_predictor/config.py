"""The one configuration object: the CLI fills the settings, the corpus fills what
comes from the data, the model factory and the trainer only read it."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

CELLS = ("simple_rnn", "lstm", "gru")
TARGETS = ("all", "last")

CONFIG_FORMAT = "word_predictor.config/1"


@dataclass
class Config:
    # data
    corpus: list[str] = field(default_factory=lambda: ["corpus"])
    chunk_size: int = 5
    unknown_threshold: int = 3
    validation_fraction: float = 0.1
    test_fraction: float = 0.2
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
    # training
    epochs: int = 20
    batch_size: int = 128
    learning_rate: float = 0.005
    clip_norm: float = 1.0
    patience: int = 3
    seed: int = 0
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
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def input_description(self) -> str:
        return "one-hot" if self.one_hot else f"embedding {self.embedding_dim}"


def config_json(config: Config, **extra) -> str:
    """JSON text of the config plus provenance (command line, versions, hashes)."""
    return json.dumps({"format": CONFIG_FORMAT, "settings": config.to_dict(), **extra}, indent=2)


def load_config(path: Path) -> tuple[Config, dict]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("format") != CONFIG_FORMAT:
        raise ValueError(f"not a word_predictor config (format {data.get('format')!r})")
    return Config.from_dict(data["settings"]), data
