"""A new run that begins where a trained run ended (train --from RUN): the trained run's
vocabulary kept as it is, its model settings kept, its kept weights the new model's first;
the new text is read in that vocabulary, so a word outside it is the unknown symbol and the
model's input and output sizes do not change.

    logs/RUN (complete) --vocabulary.json, model settings, model.keras--> logs/NEW
    MY_TEXT/*.txt       --read in RUN's vocabulary------------------------^  config.json "from_run":
                                                                            RUN's path and hashes

Unlike a resume, which continues one interrupted run, this starts another run, with its own
folder, optimiser, epochs and figures (docs/training.md, "Teaching a trained run your own text").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pydantic

from word_predictor import folder_files, rundir
from word_predictor.config import MODEL_SETTINGS, TEXT_SETTINGS, VOCABULARY_SETTINGS, Config, SettingError
from word_predictor.text.vocabulary import Vocabulary, sha256_of


@dataclass(frozen=True)
class Origin:
    """The trained run a new run begins from: its vocabulary (which reads the new text:
    training.reading.corpus_in_vocabulary), and what the new run's config.json keeps of it
    (`record`: its path and the hashes of its settings, model and vocabulary). Loads no Keras
    until its model is asked for."""

    path: Path
    vocabulary: Vocabulary
    record: dict

    def model(self):
        """The trained run's kept model, as it was when the new run began (its hash checked)."""
        path = self.path / rundir.MODEL_FILE
        if not path.is_file() or rundir.read_checked(path, sha256_of, "the model") != self.record["model_sha256"]:
            raise rundir.RunError(f"{path}, which this run began from, is gone or changed since; start the run "
                                  "again from a trained run")  # fmt: skip
        return rundir.load_model(path)


def read_origin(run_dir: Path) -> tuple[Origin, Config]:
    """A complete run to begin from, every file checked as predict checks it (rundir.checked_run:
    a RunError or a RunSettingError naming {run} otherwise), and its settings."""
    config, vocabulary, provenance = rundir.checked_run(Path(run_dir))
    record = {
        "path": str(Path(run_dir).absolute()),
        "settings_sha256": folder_files.json_sha256(provenance["settings"]),
        "model_sha256": rundir.read_status(Path(run_dir))["model_sha256"],
        "vocabulary_sha256": provenance["vocabulary_sha256"],
    }
    return Origin(Path(run_dir).absolute(), vocabulary, record), config


class FromRun(pydantic.BaseModel):
    """config.json's "from_run" (Origin.record), checked as folder_files checks a run's files."""

    model_config = pydantic.ConfigDict(strict=True, extra="allow", frozen=True)
    path: str = pydantic.Field(min_length=1)
    settings_sha256: str = pydantic.Field(pattern=folder_files.SHA256_PATTERN)
    model_sha256: str = pydantic.Field(pattern=folder_files.SHA256_PATTERN)
    vocabulary_sha256: str = pydantic.Field(pattern=folder_files.SHA256_PATTERN)


def recorded_origin(provenance: dict) -> dict | None:
    """The "from_run" of a config.json's data, checked (ValueError saying what is wrong);
    None for a run begun afresh."""
    record = provenance.get("from_run")
    return None if record is None else folder_files.parse(record, FromRun).model_dump()


def origin_of(run_dir: Path, provenance: dict, vocabulary: Vocabulary) -> Origin | None:
    """The run `run_dir` began from, as its config.json records it (None: a run begun afresh);
    `vocabulary` is the run's own, which is the trained run's."""
    record = rundir.read_checked(run_dir / rundir.CONFIG_FILE, lambda _: recorded_origin(provenance),
                                 "the trained run (from_run) recorded in")  # fmt: skip
    return None if record is None else Origin(Path(record["path"]), vocabulary, record)


def continued_settings(trained: Config, chosen: Config, given: Iterable[str]) -> Config:
    """The settings of a run continued from one trained with `trained`: the trained run's
    vocabulary and model settings, the text settings `chosen` (the command's, defaults
    included), and of the rest those `given` on the command line, else the trained run's
    (a learning rate left out is the trained run's, never a default). A vocabulary or model
    setting given with another value than the trained run's is a SettingError naming it."""
    given = set(given)
    for kept, what in ((VOCABULARY_SETTINGS, "vocabulary"), (MODEL_SETTINGS, "model's shape")):
        differing = [name for name in kept if name in given and getattr(chosen, name) != getattr(trained, name)]
        if differing:
            names = ", ".join("{%s}" % name for name in differing)
            had = ", ".join("{%s} %s" % (name, getattr(trained, name)) for name in differing)
            raise SettingError(f"{names} would change the {what}, which a run continued {{from_run}} keeps (the "
                               f"trained run has {had}); drop {names}")  # fmt: skip
    settings = {name: value for name, value in trained.to_dict().items() if name not in TEXT_SETTINGS}
    settings |= {name: getattr(chosen, name) for name in TEXT_SETTINGS}
    settings |= {name: getattr(chosen, name) for name in given}
    return Config(**settings)
