"""export_run: a run -> an exported folder, all or nothing.

Everything is written into a temporary folder beside `out` and renamed to `out` in one
step at the end, so an export that fails (or is killed) leaves no half-written folder.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import word_predictor
from word_predictor.config import CorpusFacts
from word_predictor.exporter.manifest import (
    MANIFEST_FILE,
    VOCABULARY_FILE,
    ExportError,
    content_hash,
    manifest_for,
)
from word_predictor.text import sha256_of

# format -> (module that writes it, the package it needs, the install that brings it)
FORMATS = {
    "onnx": ("word_predictor.exporter.onnx", "onnx", "pip install -e .[export]"),
    "litert": ("word_predictor.exporter.litert", "tensorflow", "pip install -e .[litert]"),
    "saved_model": ("word_predictor.exporter.saved_model", "tensorflow", "pip install -e .[tensorflow]"),
}


def format_writer(model_format: str):
    """The module that writes `model_format`; ExportError naming the pip command if its
    package is missing."""
    if model_format not in FORMATS:
        raise ExportError(f"unknown export format {model_format!r}; choose one of {', '.join(FORMATS)}")
    module, package, install = FORMATS[model_format]
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if error.name is not None and error.name.split(".")[0] != package.split(".")[0]:
            raise
        raise ExportError(f"exporting to {model_format} needs the {package} package: {install}") from None


def export_run(run, model_format: str, out: Path) -> dict:
    """Write `run` (a rundir.Run) as `model_format` into the new folder `out`; returns the manifest."""
    writer = format_writer(model_format)  # before anything is read or written
    from word_predictor.exporter.weights import read_weights  # loads Keras

    return write_export(run.config, run.vocabulary, read_weights(run.model, run.config), model_format, out,
                        source=_source(run), writer=writer, model=run.model)  # fmt: skip


def write_export(config, vocabulary, weights: dict, model_format: str, out: Path, *, source: dict,
                 writer=None, model=None) -> dict:  # fmt: skip
    """The exported folder of a model given as `weights` (export.weights' layout) and, for
    the formats TensorFlow converts, as its Keras inference view `model`; ONNX needs no
    Keras (the runtime's tests make folders this way)."""
    out = Path(out)
    if out.exists():
        raise ExportError(f"{out} already exists; choose another --out or remove it")
    if not out.parent.is_dir():
        raise ExportError(f"the folder {out.parent} does not exist; create it or choose another --out")
    writer = writer or format_writer(model_format)
    temporary = None
    try:  # the temporary folder too: a folder one cannot write in (/proc, a read-only disk) is one line
        temporary = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
        facts = CorpusFacts(vocabulary_size=len(vocabulary))  # all a model's shape takes from the corpus
        model_file, output, states, hidden = writer.write(config, facts, weights, temporary, model)
        (temporary / VOCABULARY_FILE).write_text(vocabulary.to_json(), encoding="utf-8")
        manifest = manifest_for(
            config, facts, model_format, model_file, output=output, states=states, hidden=hidden,
            model_sha256=content_hash(temporary / model_file),
            vocabulary_sha256=sha256_of(temporary / VOCABULARY_FILE),
            parameters=parameter_count(weights), source=source,
        )  # fmt: skip
        (temporary / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.chmod(temporary, 0o755)  # mkdtemp made it private; the folder is meant to be shared
        os.rename(temporary, out)
    except BaseException as error:
        if temporary is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(temporary)
        if isinstance(error, OSError):
            raise ExportError(f"cannot write {out}: {error.strerror or error}; nothing was written") from None
        if isinstance(error, ValueError):  # a format this backend cannot write
            raise ExportError(f"{error}; nothing was written") from None
        raise
    return manifest


def parameter_count(weights: dict) -> int:
    def count(value) -> int:
        return int(value.size) if isinstance(value, np.ndarray) else sum(count(v) for v in value)

    return sum(count(value) for value in weights.values())


def _source(run) -> dict:
    versions = run.provenance.get("versions", {}) if run.provenance else {}
    return {
        "run": str(run.path) if run.path else None,
        "vocabulary_sha256": run.provenance.get("vocabulary_sha256") if run.provenance else None,
        "trained_with": versions,
        "exported_by": f"word_predictor {word_predictor.__version__}",
        "exported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
