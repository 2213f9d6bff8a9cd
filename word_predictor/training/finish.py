"""The end of a run: the kept model scored on the test split, the last samples and the
embedding projector written, the figures saved and the run marked complete."""

from __future__ import annotations

from pathlib import Path

from word_predictor import monitoring, rundir
from word_predictor.config import Config
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
    rundir.mark_complete(run_dir)
