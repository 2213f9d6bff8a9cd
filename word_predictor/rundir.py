"""The run folder: everything one training wrote, and nothing that another did.

    logs/RUN/
      config.json        settings, corpus facts, command line, versions, hashes
      vocabulary.json    words, counts, threshold, normalisation version
      model.keras        best weights so far (by validation loss), no optimiser
      metrics.json       final figures on the held-out test split
      test_split.npz     that split's word ids, so evaluate needs no corpus
      runtime/           the model as ONNX, answered without Keras (word_predictor.engines)
      status.json        {"complete": true}, written last, with the model's and runtime/'s hashes
      checkpoint/        the last epoch's model, optimiser and resume state
      train/ validation/ test/ samples/ projector/   TensorBoard event files

Every file is written under a temporary name, then renamed: a kill leaves old or new, never half.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import filelock
import numpy as np

from word_predictor import folder_files
from word_predictor.config import Config, CorpusFacts, SettingError, facts_from, load_config
from word_predictor.corpus import store
from word_predictor.corpus.splits import Split
from word_predictor.errors import UserError
from word_predictor.text.vocabulary import Vocabulary, sha256_of

if TYPE_CHECKING:  # Keras is imported only where a model is loaded, so listing runs stays quick
    import keras

CONFIG_FILE = "config.json"
VOCABULARY_FILE = "vocabulary.json"
MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.json"
TEST_SPLIT_FILE = "test_split.npz"
STATUS_FILE = "status.json"
CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_MODEL = "last.keras"
CHECKPOINT_STATE = "state.json"
LOCK_FILE = ".lock"
# What every command needs of a complete run (mark_complete checks them).
COMPLETE_FILES = (CONFIG_FILE, VOCABULARY_FILE, MODEL_FILE, METRICS_FILE, TEST_SPLIT_FILE)


class RunError(UserError):
    pass


class RunSettingError(RunError, SettingError):
    """A run folder that cannot be made where a setting ({logdir}, {run_name}) says; a command names the flag."""


def write_atomic(path: Path, content: str | bytes) -> None:
    opening = {"mode": "wb"} if isinstance(content, bytes) else {"mode": "w", "encoding": "utf-8"}
    with _replacing(path, ".partial") as temporary, open(temporary, **opening) as stream:
        stream.write(content)
        stream.flush()
        os.fsync(stream.fileno())


def write_json(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, indent=2) + "\n")


def save_model_atomic(model: keras.Model, path: Path) -> None:
    with _replacing(path, ".partial.keras") as temporary:  # Keras insists on .keras
        model.save(temporary)


def write_test_split(run_dir: Path, split: Split) -> None:
    with _replacing(Path(run_dir) / TEST_SPLIT_FILE, ".partial.npz") as temporary:
        split.save(temporary)


@contextlib.contextmanager
def _replacing(path: Path, suffix: str):
    """store.replaced (the one atomic write) beside `path`, the new file on disk before it is renamed,
    with a write that fails (a full disk) said in one line; the previous version of `path` is kept."""
    path = Path(path)
    try:
        with store.replaced(path, path.with_name(f".{path.stem}{suffix}")) as temporary:
            yield temporary
            with open(temporary, "rb") as written:
                os.fsync(written.fileno())
    except OSError as error:
        raise RunSettingError(
            "cannot write {path}: {problem}; its previous version is kept. Free some space or fix the "
            "permissions, then try again ({resume} RUN continues an interrupted training)",
            path=path, problem=error.strerror or error,
        ) from None


def read_checked(path: Path, load, what: str):
    """The one way a run-folder file is read: `load(path)` (a folder_files schema for a JSON file), a
    missing, damaged, cut-short or edited file said in one line that names it."""
    try:
        return load(Path(path))
    except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
        raise RunError(f"cannot read {what} {path}: {reason}") from None


def read_test_split(run_dir: Path) -> Split:
    def load(path: Path) -> Split:
        with np.load(path, allow_pickle=False) as data:
            return Split.from_lengths(data["ids"].astype(np.int32), data["segment_lengths"])

    split = read_checked(Path(run_dir) / TEST_SPLIT_FILE, load, "the test split")
    if split.ids.size == 0:
        raise RunSettingError("run {run_dir} kept no test split ({test_fraction} 0); pass {text} FILE", run_dir=run_dir)
    return split


def check_vocabulary_file(run_dir: Path, provenance: dict) -> None:
    """The vocabulary file is the one the run was trained with (its hash is in config.json)."""
    path = Path(run_dir) / VOCABULARY_FILE
    if read_checked(path, sha256_of, "the vocabulary") != provenance.get("vocabulary_sha256"):
        raise RunError(f"{path} does not match the one this run was trained with (its hash differs from "
                       "config.json); restore the original file")


def create_run_dir(logdir: Path, name: str) -> Path:
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise RunSettingError("{run_name} {name!r} is not a plain folder name", name=name)
    make_logdir(logdir)
    run_dir = Path(logdir) / name
    try:
        run_dir.mkdir()  # atomic: of two trainings with one name, only one gets it
    except FileExistsError:
        raise RunSettingError("run folder {run_dir} already exists; choose another {run_name}, or continue it with "
                              "{resume} {run_dir}", run_dir=run_dir) from None
    except OSError as error:
        raise RunError(f"cannot create run folder {run_dir}: {error.strerror or error}") from None
    return run_dir


def make_logdir(logdir: Path) -> None:
    """Create `logdir` (and its parents), or say in one line why it cannot be."""
    logdir = Path(logdir)
    if logdir.exists() and not logdir.is_dir():
        raise RunSettingError("{logdir} {path} is a file, not a folder; pass a folder for the runs", path=logdir)
    try:
        logdir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunSettingError("cannot create {logdir} {path}: {problem}; pass a folder you can write", path=logdir,
                              problem=error.strerror or error) from None


@contextlib.contextmanager
def locked(run_dir: Path):
    """Hold the run's lock for the whole training; a second trainer is refused at once. The lock
    is the system's (filelock: flock on POSIX), so it is let go when the process ends, however."""
    try:
        held = filelock.FileLock(Path(run_dir) / LOCK_FILE, timeout=0, mode=0o644).acquire()
    except filelock.Timeout:
        raise RunError(f"run {run_dir} is being trained by another process; wait for it to finish") from None
    except OSError as error:
        raise RunError(f"cannot lock run {run_dir}: {error.strerror or error}") from None
    with held:
        yield


def read_status(run_dir: Path, strict: bool = False) -> dict:
    """status.json's fields (folder_files.StatusFile); if missing or not a status {} (`strict`: OSError, ValueError)."""
    try:
        return folder_files.read(Path(run_dir) / STATUS_FILE, folder_files.StatusFile).model_dump(exclude_unset=True)
    except (OSError, ValueError):
        if strict:
            raise
        return {}


def write_status(run_dir: Path, **fields) -> None:
    write_json(Path(run_dir) / STATUS_FILE, {**read_status(run_dir), **fields, "updated": time.time()})


def is_complete(run_dir: Path) -> bool:
    return read_status(run_dir).get("complete") is True


def mark_complete(run_dir: Path) -> None:
    """The last write of a training, once every other file is in place; records the
    model's hash too, so a model.keras swapped in afterwards is refused."""
    if missing := _missing(run_dir):  # a bug if it happens: every path to here writes them first
        raise RunError(f"run {run_dir} lacks {', '.join(missing)}, so it is not marked complete")
    model_sha256 = sha256_of(Path(run_dir) / MODEL_FILE)
    write_status(run_dir, complete=True, finished=time.time(), model_sha256=model_sha256)


def _missing(run_dir: Path) -> list[str]:
    return [name for name in COMPLETE_FILES if not (Path(run_dir) / name).is_file()]


def _started(run_dir: Path) -> float:
    return float(read_status(run_dir).get("started", 0.0)) or run_dir.stat().st_mtime


def list_runs(logdir: Path) -> list[Path]:
    """Run folders under `logdir`, newest first."""
    logdir = Path(logdir)
    if not logdir.is_dir():
        return []
    runs = [p for p in logdir.iterdir() if p.is_dir() and (p / STATUS_FILE).is_file()]
    return sorted(runs, key=_started, reverse=True)


def newest_complete_run(logdir: Path, on_note=lambda message: None) -> Path:
    runs = list_runs(logdir)
    complete = [run for run in runs if is_complete(run)]
    if not complete:
        if runs:
            raise RunSettingError(
                "no complete run under {logdir}: {name} is still training or was interrupted; finish it "
                "with {resume} {path}", logdir=logdir, name=runs[0].name, path=runs[0],
            )
        raise RunError(f"no run found under {logdir}; train one with python -m word_predictor.train")
    skipped = runs[: runs.index(complete[0])]
    why = f"newest complete run under {logdir}"
    if skipped:
        why += f"; skipping newer incomplete run(s) {', '.join(r.name for r in skipped)}"
    on_note(f"using run {complete[0]} ({why})")
    return complete[0]


@dataclass
class Run:
    path: Path
    config: Config
    vocabulary: Vocabulary
    model: keras.Model
    provenance: dict
    facts: CorpusFacts  # what the corpus found (config.json's facts)


def load_run(run_dir: Path) -> Run:
    """A complete run's config, vocabulary and model, checked against each other."""
    config, vocabulary, provenance = checked_run(run_dir := Path(run_dir))
    model = load_model(run_dir / MODEL_FILE)
    outputs, facts = model.outputs[0].shape[-1], facts_from(provenance)  # logits first (then any states)
    if problem := (outputs != len(vocabulary) and f"the model predicts {outputs} tokens but the vocabulary has "
                   f"{len(vocabulary)}") or vocabulary.mismatch(config, facts.vocabulary_size):
        raise RunError(f"{run_dir}: {problem}; they come from different runs, or one was edited")
    return Run(run_dir, config, vocabulary, model, provenance, facts)


def checked_run(run_dir: Path) -> tuple[Config, Vocabulary, dict]:
    """A complete run's config, vocabulary and config.json, each file checked, no model loaded (engines)."""
    if not run_dir.exists():
        raise RunSettingError("run folder {run_dir} does not exist; pass {run} logs/RUN (python -m word_predictor.runs "
                              "lists them)", run_dir=run_dir)
    if not run_dir.is_dir():
        raise RunSettingError("{run_dir} is a file, not a run folder; pass {run} logs/RUN", run_dir=run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        raise RunError(f"{run_dir} is not a word_predictor run folder (no {CONFIG_FILE})")
    status = read_checked(run_dir / STATUS_FILE, lambda _: read_status(run_dir, strict=True), "the status")
    if status.get("complete") is not True:
        if status.get("stopped"):
            raise RunSettingError("run {run_dir} stopped ({why}) before its first epoch ended and holds no model; "
                                  "train a new run with a lower {learning_rate}", run_dir=run_dir, why=status["stopped"])
        raise RunSettingError("run {run_dir} is incomplete (still training or interrupted); finish it with {resume} "
                              "{run_dir}", run_dir=run_dir)
    if missing := _missing(run_dir):  # a status that says complete, written by hand or copied from another run
        raise RunError(f"{run_dir / missing[0]} is missing, though {STATUS_FILE} says the run finished; restore it "
                       "or train again")
    config, provenance = read_checked(run_dir / CONFIG_FILE, load_config, "the settings")
    check_vocabulary_file(run_dir, provenance)  # first: a vocabulary not the run's own is never parsed
    vocabulary = read_checked(run_dir / VOCABULARY_FILE, Vocabulary.load, "the vocabulary")
    if read_checked(run_dir / MODEL_FILE, sha256_of, "the model") != status["model_sha256"]:
        raise RunError(f"{run_dir / MODEL_FILE} is not the model this run finished with (its hash differs from "
                       f"{STATUS_FILE}); restore the original file or train again")
    return config, vocabulary, provenance


def load_model(path: Path, compile: bool = False) -> keras.Model:
    """Load a .keras file with safe_mode on: a file that carries code is refused."""
    import word_predictor.model  # noqa: F401  (registers the project's own layers for loading)
    from word_predictor.backend import keras

    if not Path(path).is_file():
        raise RunError(f"{path} is missing")
    if not zipfile.is_zipfile(path):
        raise RunError(f"refusing to load {path}: it is not a whole .keras file (damaged or cut short)")
    try:
        return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as error:  # Keras raises many kinds for a bad file; all mean the same here
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if "safe_mode" in str(error) or "lambda" in str(error).lower():
            reason = "it carries Python code (a Lambda layer), which is never loaded"
        raise RunError(f"refusing to load {path}: {reason[:300]}") from None
