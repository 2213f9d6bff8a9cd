"""Which engine answers a folder: one mapping, asked once (cli.load_predictor) by predict,
generate, evaluate and serve.

    exported folder (manifest.json)       the runtime: NumPy + ONNX Runtime, Keras never loaded
    run folder whose RUN/runtime/ holds   the runtime, when it gives the answer Keras would
      the ONNX model training wrote
    any other run folder                  Keras, on the backend --backend chooses

A run folder's own files are checked first, as Keras' loader checks them (rundir.checked_run:
complete, config.json, vocabulary.json and model.keras by their hashes): a run that fails is
refused whichever engine is asked. It then falls back to Keras, with the reason (one line
on stderr with --verbose), when the runtime cannot give Keras' answer:
  - it has no ONNX model: an older version trained it, or onnx was not installed then;
  - RUN/runtime/ is missing, or its files are not those training wrote (status.json
    records the manifest's hash, the manifest the model's and the vocabulary's), or its
    settings and vocabulary are not the run's own;
  - onnxruntime is not installed here;
  - the run computes in mixed precision, which the float32 ONNX model does not repeat;
  - the command asks for something only the Keras model does (`keras_only`, a phrase
    naming it: dynamic evaluation, which changes the weights, is one);
  - the command learns from the text (`adapts`: the continuous cache) and the ONNX model
    gives out no hidden state (exported by a version before the runtime could learn).
--engine keras always reads model.keras; --engine runtime refuses, in one line, where
auto would fall back.

Importing this loads neither Keras nor ONNX Runtime: each engine is imported when it is chosen.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

from word_predictor import folder_files, rundir
from word_predictor.backend import BackendError
from word_predictor.errors import UserError
from word_predictor.exporter.manifest import MANIFEST_FILE, ExportError, check_and_load, is_exported, read_manifest
from word_predictor.text import sha256_of

ENGINE_NAMES = ("auto", "keras", "runtime")
RUNTIME_DIR = "runtime"  # in a run folder; not export-onnx, python -m word_predictor.export's own default


class EngineError(UserError):
    """The engine asked for cannot read this folder."""


def _load_keras(folder: Path, backend_name: str | None):
    from word_predictor import backend

    backend.select(backend_name)  # before anything imports Keras
    from word_predictor.predictor import Predictor

    return Predictor.from_run(rundir.load_run(folder))


def _load_runtime(folder: Path, backend_name: str | None):
    from word_predictor.runtime import load

    return load(folder)


# engine -> what reads a folder with it (the run folder for Keras, an exported folder for the runtime)
LOADERS: dict[str, Callable] = {"keras": _load_keras, "runtime": _load_runtime}


def runtime_problem(run_dir: Path, keras_only: str | None = None, adapts: bool = False) -> str | None:
    """Why the runtime cannot give the answer Keras would for the run folder `run_dir`
    (`adapts`: learning from the text as well), checked without loading either (the model
    file's own hash is checked when it loads); None when it can."""
    run_dir = Path(run_dir)
    if keras_only:
        return f"{keras_only} is done by the Keras model only"
    try:
        status = folder_files.read(run_dir / rundir.STATUS_FILE, folder_files.StatusFile)
    except (OSError, ValueError):
        return f"{run_dir} holds no readable {rundir.STATUS_FILE} (not a complete run)"
    if not status.complete:
        return "the run is not complete"
    if status.runtime_sha256 is None:
        return "the run has no ONNX model (trained by an older version, or where onnx was not installed)"
    manifest = run_dir / RUNTIME_DIR / MANIFEST_FILE
    try:
        found = sha256_of(manifest)
    except OSError:
        return f"{manifest} is missing"
    if found != status.runtime_sha256:
        return f"{manifest} is not the one this run finished with (its hash differs from {rundir.STATUS_FILE})"
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed (pip install -r requirements-runtime.txt)"
    try:
        exported = read_manifest(manifest.parent)
        settings = folder_files.read_json(run_dir / rundir.CONFIG_FILE).get("settings")
        vocabulary_sha256 = sha256_of(run_dir / rundir.VOCABULARY_FILE)
    except (ExportError, OSError, ValueError, AttributeError) as error:
        return str(error)
    if exported["settings"] != settings or exported["vocabulary_sha256"] != vocabulary_sha256:
        return f"{manifest.parent} holds other settings or another vocabulary than the run's own files"
    precision = exported["settings"].get("precision", "float32")
    if precision != "float32":
        return f"the run computes in {precision}, the ONNX model in float32"
    if adapts and exported.get("hidden") is None:
        return "its ONNX model gives out no hidden state, which learning from the text needs (an older export)"
    return None


def engine_for(run_dir: Path) -> str | None:
    """The engine `auto` would read the run folder with, its files' hashes checked but no
    model loaded (for listings); None for a run neither can read."""
    try:
        rundir.checked_run(Path(run_dir))
    except rundir.RunError:
        return None
    if runtime_problem(run_dir) is not None:
        return "keras"
    try:
        check_and_load(Path(run_dir) / RUNTIME_DIR)
    except ExportError:
        return "keras"
    return "runtime"


def load(folder: Path, engine: str = "auto", backend_name: str | None = None, keras_only: str | None = None,
         verbose: bool = False, adapts: bool = False):  # fmt: skip
    """A Predictor for `folder` (a run or an exported folder) on the engine chosen above;
    EngineError where the engine asked for cannot read it. A fall back to Keras is said
    in one line on stderr when `verbose`. `adapts`: the caller will learn from the text
    (Predictor.hidden_reader); an exported folder that cannot is loaded all the same, and
    says so when asked for its hidden reader."""
    return load_named(folder, engine, backend_name, keras_only, verbose, adapts)[1]


def load_named(folder: Path, engine: str = "auto", backend_name: str | None = None, keras_only: str | None = None,
               verbose: bool = False, adapts: bool = False):  # fmt: skip
    """(the engine that answers, "keras" or "runtime"; its Predictor): `load`, saying which."""
    if engine not in ENGINE_NAMES:
        raise EngineError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINE_NAMES)}")
    folder = Path(folder)
    if is_exported(folder):
        if engine == "keras" or keras_only:
            why = f"{keras_only} needs" if keras_only else "--engine keras needs"
            raise EngineError(f"{why} a run folder's Keras model; {folder} is an exported folder, which holds none")
        return "runtime", LOADERS["runtime"](folder, backend_name)
    if engine != "keras":
        rundir.checked_run(folder)  # the run's own files, as Keras' loader checks them first: refused either way
        reason = runtime_problem(folder, keras_only, adapts)
        if reason is None:
            try:
                return "runtime", LOADERS["runtime"](folder / RUNTIME_DIR, backend_name)
            except ExportError as error:  # the model file truncated, swapped or not ONNX Runtime's
                reason = str(error)
        if engine == "runtime":
            raise EngineError(f"--engine runtime cannot answer for {folder}: {reason}")
        if verbose:
            print(f"answering with Keras: {reason}", file=sys.stderr)
        try:
            return "keras", LOADERS["keras"](folder, backend_name)
        except BackendError as error:  # the Keras-free install: why Keras was needed is the news
            raise EngineError(f"only Keras can answer for {folder} ({reason}), and {error}") from None
    return "keras", LOADERS["keras"](folder, backend_name)
