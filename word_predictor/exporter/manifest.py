"""manifest.json: what an exported folder holds and how to read text for its model.

    EXPORT/
      model.onnx | model.tflite | saved_model/    the stateless step (see word_predictor.export)
      vocabulary.json                              the run's vocabulary, in the run's own format
      manifest.json                                this: format, reading rules, inputs, states,
                                                   sizes, hashes, the run it came from

NumPy and the standard library only: word_predictor.runtime reads it without Keras.
Loading checks the format version, the manifest against its schema and its own hash, and
the files' hashes, before anything else is parsed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from word_predictor import folder_files
from word_predictor.batches.kinds import kind_of
from word_predictor.config import Config, CorpusFacts, checked_settings
from word_predictor.errors import UserError
from word_predictor.text import UNKNOWN_TOKEN, Vocabulary, sha256_of

MANIFEST_FILE = "manifest.json"
VOCABULARY_FILE = "vocabulary.json"
FORMAT_NAME = "word_predictor.export"
FORMAT_VERSION = 2  # 2: the manifest records a hash over itself (version 1 is still read)
# What the graph's first output holds: unnormalised next-token scores, as the Keras
# inference view gives them (a log-softmax of them gives the log-probabilities).
OUTPUT_KIND = "logits"
# What the "hidden" output holds (exports from this version on; older ones have none, and
# cannot learn from the text): the tensor the output layer reads, the last recurrent
# layer's output (through the projection of tied weights), as the Keras hidden view gives it.
HIDDEN_KIND = "the output layer's input"


class ExportError(UserError):
    """An exported folder that cannot be used as it is."""


def is_exported(folder: Path) -> bool:
    return (Path(folder) / MANIFEST_FILE).is_file()


def manifest_for(
    config: Config, facts: CorpusFacts, model_format: str, model_file: str, *, output: str, states: list[dict], model_sha256: str,
    vocabulary_sha256: str, parameters: int, source: dict, hidden: dict | None = None,
) -> dict:  # fmt: skip
    """The manifest of one export; `states` lists each state's input and output name and shape,
    `hidden` the name and shape of the output the continuous cache reads (None: the model
    gives none)."""
    manifest = {
        "format": f"{FORMAT_NAME}/{FORMAT_VERSION}",
        "model_format": model_format,
        "model_file": model_file,
        "model_sha256": model_sha256,
        "output": {
            "name": output,
            "holds": OUTPUT_KIND,
            "shape": ["batch", "time", "vocabulary"]
            if kind_of(config).answers_every_position
            else ["batch", "vocabulary"],
        },
        "inputs": {"tokens": {"dtype": "int32", "shape": ["batch", _time_axis(config, model_format)]}},
        "states": states,
        **({"hidden": {**hidden, "holds": HIDDEN_KIND}} if hidden else {}),
        "level": config.level,
        "context": config.context,
        "window_size": config.window_size,
        "pad_short_contexts": config.targets == "last",  # left-padded with the unknown id to a full window
        "normalisation": config.normalisation,
        "unknown_token": UNKNOWN_TOKEN,
        "vocabulary_file": VOCABULARY_FILE,
        "vocabulary_sha256": vocabulary_sha256,
        "sizes": {
            "vocabulary": facts.vocabulary_size,
            "cell": config.cell,
            "layers": config.layers,
            "units": config.units,
            "embedding_dim": None if config.one_hot else config.embedding_dim,
            "one_hot": config.one_hot,
            "bidirectional": config.bidirectional,
            "tie_weights": config.tie_weights,
            "parameters": parameters,
        },  # fmt: skip
        "source_run": source,
        "settings": config.to_dict(),  # the run's whole config, so a Predictor reads text as the run did
        "facts": facts.to_dict(),
    }
    # What decides how the model is read is covered by a hash, as the files are.
    return {**manifest, "manifest_sha256": folder_files.manifest_hash(manifest)}


def _time_axis(config: Config, model_format: str):
    """ONNX and SavedModel read any length; LiteRT a window, or one token per call (litert.py)."""
    if model_format != "litert":
        return "time"
    return kind_of(config).step_length


def read_manifest(folder: Path) -> dict:
    """The manifest of `folder`, checked against its schema (folder_files.ExportManifest: types,
    ranges, the parts that must agree) and its own hash; ExportError says why it cannot be used."""
    path = Path(folder) / MANIFEST_FILE
    try:
        data = folder_files.read_json(path)
    except (OSError, ValueError) as error:
        raise ExportError(f"cannot read {path}: {error}") from None
    found = data.get("format") if isinstance(data, dict) else None
    name, _, version = str(found).partition("/")
    if name != FORMAT_NAME or not version.isdigit():
        raise ExportError(f"{path} is not a word_predictor export manifest (format {found!r})")
    if int(version) > FORMAT_VERSION:
        raise ExportError(
            f"{folder} was exported by a newer word_predictor (format version {version}; this one reads "
            f"{FORMAT_VERSION}); upgrade word_predictor to use it"
        )
    try:
        folder_files.check_manifest_hash(data, int(version))  # first: an edit is named as one
        folder_files.parse(data, folder_files.ExportManifest)
    except ValueError as error:
        raise ExportError(f"{path} cannot be used: {error}") from None
    return data


def check_and_load(folder: Path) -> tuple[dict, Config, Vocabulary]:
    """The manifest, config and vocabulary of an exported folder, after checking that the
    model file and the vocabulary are the ones it was exported with (their hashes), and that
    the settings and the vocabulary agree with what the manifest says of them."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    for key, file in (("model_sha256", manifest["model_file"]), ("vocabulary_sha256", manifest["vocabulary_file"])):
        path = folder / file
        if not path.exists():
            raise ExportError(f"{path} is missing; export the run again")
        if content_hash(path) != manifest[key]:
            raise ExportError(
                f"{path} is not the file this folder was exported with (its hash differs from "
                f"{MANIFEST_FILE}); export the run again"
            )
    try:
        vocabulary = Vocabulary.load(folder / manifest["vocabulary_file"])
    except (OSError, ValueError) as error:
        raise ExportError(f"cannot read {folder / manifest['vocabulary_file']}: {error}") from None
    try:
        config = checked_settings(manifest["settings"])
    except ValueError as error:
        raise ExportError(f"{folder / MANIFEST_FILE} cannot be used: {error}") from None
    if problem := vocabulary.mismatch(config, manifest["sizes"]["vocabulary"]):
        raise ExportError(f"{folder / manifest['vocabulary_file']} is not the vocabulary of the model {MANIFEST_FILE} "
                          f"describes ({problem}); export the run again")
    return manifest, config, vocabulary


def content_hash(path: Path) -> str:
    """A file's sha256, or one over a folder's files (a saved_model) in name order."""
    path = Path(path)
    if path.is_file():
        return sha256_of(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode() + b"\0" + sha256_of(file).encode())
    return digest.hexdigest()
