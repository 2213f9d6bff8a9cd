"""The one reader of the JSON files a command finds in a run folder, an exported folder or the token store: each
file has a schema here (pydantic), and `read` checks a file against it, so a file that was cut short, edited by hand
or taken from elsewhere is one ValueError saying what is wrong (the caller names the file), never a KeyError deep
inside a command.

    run folder      config.json (ConfigFile)  vocabulary.json (VocabularyFile)  status.json (StatusFile)
                    checkpoint/state.json (CheckpointState)  metrics.json (MetricsFile)
    exported folder manifest.json (ExportManifest)  vocabulary.json (VocabularyFile)
    token store     tokens-<key>.json (StoreMeta)

What decides how a model is read is covered by a hash: config.json records one over its settings, manifest.json one
over itself (`json_sha256`), beside the hashes of the files they describe. A hash only catches an edit made without
it in mind; the checks here (types, ranges, fields that must agree) catch the rest they can.

NumPy-free, Keras-free and standard library plus pydantic only: the runtime reads exports with it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SHA256_PATTERN = r"^[0-9a-f]{64}$"


def _count(default: Any = ...) -> Any:
    return Field(default, ge=0)


def _sha256(default: Any = ...) -> Any:
    return Field(default, pattern=SHA256_PATTERN)


Schema = TypeVar("Schema", bound=BaseModel)


class _Checked(BaseModel):
    """Types as JSON gives them (no "5" for 5, no 1 for true); keys not named here are kept."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


def json_sha256(data: Any) -> str:
    """A hash of JSON-able `data` that does not depend on key order or layout."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def problem_of(error: ValidationError) -> str:
    """A pydantic error as one short phrase: where in the file, and what is wrong there."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        where, message = "", f"it lacks {where}"
    elif first["type"] == "literal_error":
        where, message = "", f"{where} {first['input']!r} is not one this version reads ({message[15:]})"
    more = error.error_count() - 1
    return (f"{where}: {message}" if where else message) + (f" (and {more} more)" if more else "")


def parse(data: Any, schema: type[Schema]) -> Schema:
    """`data` (parsed JSON) checked against `schema`; a ValueError saying what is wrong otherwise
    (the caller names the file)."""
    if not isinstance(data, dict):
        raise ValueError(f"it is not a JSON object but a {type(data).__name__}")
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        raise ValueError(problem_of(error)) from None


def read(path: Path, schema: type[Schema]) -> Schema:
    """The JSON file at `path`, checked against `schema`; OSError if it cannot be read,
    ValueError if it is not JSON or not that schema (the caller names the file)."""
    return parse(read_json(path), schema)


def read_json(path: Path) -> Any:
    """The parsed JSON of `path`; ValueError if it is not JSON."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except ValueError as error:  # JSONDecodeError and bad UTF-16 surrogates alike
        raise ValueError(f"not JSON ({error})") from None


# --- the run folder -------------------------------------------------------------------------

CONFIG_FORMATS = ("word_predictor.config/1", "word_predictor.config/2", "word_predictor.config/3")


class Facts(_Checked):
    """What the corpus found (config.CorpusFacts), recorded apart from the settings since format 3."""
    vocabulary_size: int = Field(default=0, ge=0)
    corpus_tokens: int = Field(default=0, ge=0)
    train_tokens: int = Field(default=0, ge=0)
    validation_tokens: int = Field(default=0, ge=0)
    test_tokens: int = Field(default=0, ge=0)


class ConfigFile(_Checked):
    """config.json: the settings (Config's fields; config.load_config checks their values),
    a hash over them, and provenance (command line, versions, the vocabulary's hash)."""

    format: Literal[CONFIG_FORMATS]  # type: ignore[valid-type]
    settings: dict[str, Any]
    facts: Facts | None = None  # format 3; formats 1 and 2 kept the facts among the settings
    settings_sha256: str | None = _sha256(None)  # None: a run written before the hash was recorded
    vocabulary_sha256: str | None = None
    command_line: str = ""

    def check_hash(self) -> None:
        """The settings are those the run was written with (ValueError otherwise)."""
        if self.settings_sha256 is not None and json_sha256(self.settings) != self.settings_sha256:
            raise ValueError("its settings were edited after the run was written (they no longer match "
                             "settings_sha256); restore the original file")

    def changed_from(self, recorded: dict) -> list[str]:
        """'name old -> new' for each setting that differs from `recorded` (what the run began with)."""
        names = sorted(set(recorded) | set(self.settings))
        return [f"{name} {recorded.get(name)!r} -> {self.settings.get(name)!r}"
                for name in names if recorded.get(name) != self.settings.get(name)]  # fmt: skip


class StatusFile(_Checked):
    """status.json: whether the run is complete; a complete one names the model it finished with."""

    complete: bool = False
    started: float | None = None
    finished: float | None = None
    updated: float | None = None
    epochs_completed: int = _count(0)
    stopped: str | None = None
    model_sha256: str | None = _sha256(None)
    # the sha256 of runtime/manifest.json (which holds the ONNX model's and the vocabulary's);
    # None: no ONNX model was written (an older version, or onnx not installed)
    runtime_sha256: str | None = _sha256(None)

    @model_validator(mode="after")
    def _complete_names_its_model(self):
        # A status that says complete without the model's hash and end time was not written
        # by a training that finished: it is never taken as one.
        if self.complete and (self.model_sha256 is None or self.finished is None):
            raise ValueError("it says complete but records no model_sha256 or finished time, as a finished "
                             "training writes")
        return self


class CheckpointState(_Checked):
    """checkpoint/state.json: where an interrupted run resumes, and the settings it began with."""

    epochs_completed: int = _count()
    global_step: int = _count(0)
    best_val_loss: float | None = None
    best_epoch: int | None = _count(None)
    stopped_early: bool = False
    callbacks: dict[str, dict[str, Any]] = {}
    settings: dict[str, Any] | None = None  # None: written before the settings were recorded here


class MetricsFile(_Checked):
    """metrics.json: a finished run's figures (the runs command lists them)."""

    best_epoch: int | None = Field(None, ge=1)
    epochs_completed: int = _count(0)
    best_validation_loss: float | None = None
    stopped: str | None = None
    test: dict[str, float | None] | None = None  # score_run's figures, by name


# --- the vocabulary (both folders) -------------------------------------------------------------

VOCABULARY_FORMATS = ("word_predictor.vocabulary/1", "word_predictor.vocabulary/2")


class VocabularyFile(_Checked):
    """vocabulary.json; format 1 (word level, ascii, no size limit) is read as such."""

    format: Literal[VOCABULARY_FORMATS]  # type: ignore[valid-type]
    level: str
    normalisation: str
    normalisation_version: int = _count()
    unknown_threshold: int = _count()
    max_size: int = _count()
    size: int = _count()
    unknown_token: str | None = None
    tokens: list[str]
    counts: list[int]

    @model_validator(mode="before")
    @classmethod
    def _format_1(cls, data):
        if isinstance(data, dict) and data.get("format") == VOCABULARY_FORMATS[0]:
            return {"level": "word", "normalisation": "ascii", "max_size": 0, **data}
        return data

    @model_validator(mode="after")
    def _sizes_agree(self):
        if self.size != len(self.tokens) or len(self.counts) != len(self.tokens):
            raise ValueError(f"size says {self.size} but {len(self.tokens)} tokens and {len(self.counts)} counts "
                             "are listed")
        if any(count < 0 for count in self.counts):
            raise ValueError("counts are not whole numbers >= 0")
        return self


# --- the exported folder ---------------------------------------------------------------------

EXPORT_FORMAT_NAME = "word_predictor.export"
PLAIN_NAME = r"^[^/\\]+$"  # a file inside the folder, never a path out of it


class StateSpec(_Checked):
    """One carried state of a full-context export: its input and output names, (batch, units)."""
    name: str
    output: str
    shape: list[Any] = Field(min_length=2, max_length=2)


class HiddenSpec(_Checked):
    """The output the continuous cache reads: its name and shape, (batch[, time], width)."""
    name: str
    shape: list[Any] = Field(min_length=2, max_length=3)


class Sizes(_Checked):
    vocabulary: int = Field(ge=2)  # the unknown token and at least one more
    units: int = Field(ge=1)
    layers: int = Field(ge=1)


class ExportManifest(_Checked):
    """manifest.json of an exported folder. Its top-level reading rules repeat the run's settings for other programs;
    both must agree, and `manifest_sha256` covers the whole file (format 2 on), so neither can be edited alone."""
    format: str = Field(pattern=rf"^{EXPORT_FORMAT_NAME}/[0-9]+$")
    model_format: Literal["onnx", "litert", "saved_model"]
    model_file: str = Field(pattern=PLAIN_NAME)
    model_sha256: str = _sha256()
    vocabulary_file: str = Field(pattern=PLAIN_NAME)
    vocabulary_sha256: str = _sha256()
    states: list[StateSpec]
    hidden: HiddenSpec | None = None  # none in exports made before the runtime could learn from the text
    level: str
    context: str
    window_size: int = Field(ge=1)
    normalisation: str
    pad_short_contexts: bool
    sizes: Sizes
    settings: dict[str, Any]
    facts: Facts | None = None  # what the corpus found; older exports kept it among the settings
    manifest_sha256: str | None = _sha256(None)

    @model_validator(mode="after")
    def _parts_agree(self):
        for name in ("level", "context", "window_size", "normalisation"):
            if self.settings.get(name) != getattr(self, name):
                raise ValueError(f"{name} is {getattr(self, name)!r} but the run's settings say "
                                 f"{self.settings.get(name)!r}")
        recorded = {"vocabulary_size": self.facts.vocabulary_size if self.facts else self.settings.get("vocabulary_size"),
                    "units": self.settings.get("units"), "layers": self.settings.get("layers")}  # fmt: skip
        for name, setting in (("vocabulary", "vocabulary_size"), ("units", "units"), ("layers", "layers")):
            if recorded[setting] != getattr(self.sizes, name):
                raise ValueError(f"sizes.{name} is {getattr(self.sizes, name)!r} but the run's settings say "
                                 f"{setting} {recorded[setting]!r}")
        if self.pad_short_contexts != (self.settings.get("targets") == "last"):
            raise ValueError("pad_short_contexts does not match the run's targets setting")
        for spec in self.states:
            if spec.shape[-1] != self.sizes.units:
                raise ValueError(f"state {spec.name} has {spec.shape[-1]!r} units, the model {self.sizes.units}")
        return self


def manifest_hash(data: dict) -> str:
    return json_sha256({key: value for key, value in data.items() if key != "manifest_sha256"})


def check_manifest_hash(data: dict, version: int) -> None:
    """`data` (a manifest as parsed) hashes to its manifest_sha256 (format 1 recorded none)."""
    recorded = data.get("manifest_sha256")
    if recorded is None and version >= 2:
        raise ValueError("it records no manifest_sha256")
    if recorded is not None and manifest_hash(data) != recorded:
        raise ValueError("it was edited after the export (it no longer matches its manifest_sha256); "
                         "export the run again")


# --- the token store -------------------------------------------------------------------------


class StoreMeta(_Checked):
    """tokens-<key>.json: what the .int32 file beside it holds (corpus.store)."""
    format: str
    key: dict[str, Any]
    tokens: int = _count()
    crc32: int = _count()
