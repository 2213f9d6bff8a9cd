"""The end of a run: the kept model scored on the test split, the last samples and the
embedding projector written, the figures saved, the model exported to ONNX for the
Keras-free runtime (RUN/runtime/) and the run marked complete."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from word_predictor import folder_files, monitoring, rundir
from word_predictor.config import Config, facts_from
from word_predictor.corpus.splits import Corpus
from word_predictor.monitoring.samples import samples_markdown
from word_predictor.predictor.predictor import Predictor
from word_predictor.scoring.evaluate import NothingToScore, format_scores, score_run


def finish(run_dir: Path, config: Config, corpus: Corpus, state: dict, stopped_at, prompts: list[str],
           reader) -> None:
    """Score the kept (best) model on the test split, then mark the run complete. The kept
    weights are read into the run's own inference view (`reader`'s model): the same model
    as loading model.keras, with its traces and compiled scoring kept."""
    model = reader.model
    model.load_weights(run_dir / rundir.MODEL_FILE)
    predictor = Predictor(reader, config, corpus.vocabulary)
    metrics: dict = {
        "best_epoch": state.get("best_epoch", 0) + 1,
        "epochs_completed": state.get("epochs_completed", 0),
        "best_validation_loss": state.get("best_val_loss"),
        "stopped": "non-finite loss" if stopped_at else None,
    }
    last_step = metrics["epochs_completed"] - 1
    try:
        scores = score_run(predictor, corpus.splits["test"])
    except NothingToScore:
        print("no test split to score (a test fraction of 0, or a very short corpus)")
    else:
        metrics["test"] = scores
        print(f"test split of {run_dir.name}:\n{format_scores(scores)}")
        monitoring.write_test_metrics(run_dir, scores, step=last_step)
    monitoring.write_final_samples(
        run_dir, samples_markdown(predictor, prompts), step=metrics["epochs_completed"], best_epoch=state.get("best_epoch", 0)
    )
    monitoring.write_projector(run_dir, model, corpus.vocabulary)
    rundir.write_json(run_dir / rundir.METRICS_FILE, metrics)
    rundir.write_status(run_dir, runtime_sha256=write_runtime(run_dir, config, corpus.vocabulary, model))
    rundir.mark_complete(run_dir)


def write_runtime(run_dir: Path, config: Config, vocabulary, model) -> str | None:
    """The kept model exported to ONNX in RUN/runtime/ (the exporter's graph and manifest),
    replacing the one an earlier end of this run wrote; the sha256 of its manifest.json,
    which names the model's and the vocabulary's hashes. None where onnx is not installed
    (the JAX or a minimal install) or the folder cannot be written: the commands then answer
    through Keras, as for a run an older version trained."""
    from word_predictor.engines import RUNTIME_DIR
    from word_predictor.exporter.folder import export_run
    from word_predictor.exporter.manifest import MANIFEST_FILE, ExportError
    from word_predictor.text import sha256_of

    folder = run_dir / RUNTIME_DIR
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(folder)  # a resume that completes writes its own
    provenance = folder_files.read_json(run_dir / rundir.CONFIG_FILE)
    try:
        export_run(rundir.Run(run_dir, config, vocabulary, model, provenance, facts_from(provenance)), "onnx", folder)
    except ExportError:  # onnx missing, or a disk that refuses: Keras answers instead
        return None
    return sha256_of(folder / MANIFEST_FILE)
