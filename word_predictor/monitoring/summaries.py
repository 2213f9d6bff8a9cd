"""What a run writes once: its description when training starts, its final figures at the end.

    RUN           hparams (HParams dashboard), model_summary and configuration (text), step 0
    RUN/test      epoch_loss, epoch_perplexity, epoch_accuracy, epoch_top5_accuracy of the
                  kept model on the held-out test split, at the last epoch
    RUN/samples   next_word_predictions of the kept model, after the last epoch's table

The hparams summaries come from the hparams plugin's TensorFlow-free `*_pb` builders
(its `api` module imports TensorFlow, so it is not used).
"""

from __future__ import annotations

from pathlib import Path

from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import summary_v2 as hp

from word_predictor.backend import keras
from word_predictor.config import (
    CELLS,
    CONTEXTS,
    LEVELS,
    NORMALISATIONS,
    OPTIMIZERS,
    PRECISIONS,
    TARGETS,
    Config,
    CorpusFacts,
    unused_settings,
)
from word_predictor.monitoring.callbacks import SAMPLES_FOLDER, SAMPLES_TAG
from word_predictor.monitoring.writer import EventWriter

# Hyperparameters shown side by side in the HParams dashboard, which opens with the
# first five as columns: the model's shape first, then how text is fed, the data, training.
HPARAMS = (
    "cell", "bidirectional", "layers", "units", "embedding_dim", "one_hot", "tie_weights",
    "context", "targets", "window_size", "bptt",
    "level", "normalisation", "max_vocabulary", "unknown_threshold",
    "dropout", "batch_size", "learning_rate", "clip_norm", "precision",
    "vocabulary_size", "corpus_tokens",
    "locked_dropout", "weight_drop", "embedding_dropout", "activation_regularisation",
    "temporal_activation_regularisation", "optimizer", "weight_averaging", "lr_patience",
)  # fmt: skip
# Settings with a fixed set of values: the dashboard offers them as check boxes.
CHOICES = {
    "level": LEVELS,
    "normalisation": NORMALISATIONS,
    "cell": CELLS,
    "bidirectional": (False, True),
    "one_hot": (False, True),
    "tie_weights": (False, True),
    "context": CONTEXTS,
    "targets": TARGETS,
    "precision": PRECISIONS,
    "locked_dropout": (False, True),
    "optimizer": OPTIMIZERS,
    "weight_averaging": (False, True),
}
# (tag, group) pairs: final values become the HParams dashboard's metric columns.
HPARAM_METRICS = [
    (f"epoch_{name}", group)
    for group in ("validation", "test")
    for name in ("loss", "perplexity", "accuracy", "top5_accuracy")
]
TEST_FIGURES = (
    ("loss", "loss"),
    ("perplexity", "perplexity"),
    ("accuracy", "top1"),
    ("top5_accuracy", "top5"),
)


class _Number(hp.Domain):
    """Any number: tells the HParams dashboard to sort and filter the column as numbers."""

    dtype = float

    def sample_uniform(self, rng=None):
        raise NotImplementedError("an unbounded domain cannot be sampled")

    def update_hparam_info(self, hparam_info):
        hparam_info.type = api_pb2.DATA_TYPE_FLOAT64


def _hparam(name: str) -> hp.HParam:
    return hp.HParam(name, hp.Discrete(list(CHOICES[name])) if name in CHOICES else _Number())


def hparam_values(config: Config, facts: CorpusFacts) -> dict:
    """The run's HPARAMS (settings and facts); a setting the run does not use shows 0, not its unused default."""
    settings = {**config.to_dict(), **facts.to_dict()}
    values = {name: settings[name] for name in HPARAMS}
    for name in unused_settings(config) & set(values):  # an unused bptt, window size or embedding
        values[name] = 0
    return values


def write_run_description(run_dir: Path, config: Config, facts: CorpusFacts, model: keras.Model,
                          command_line: str) -> None:  # fmt: skip
    """Once per run: hparams for the HParams dashboard, the model summary and settings as text."""
    summary_lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: summary_lines.append(line), line_length=100)
    # Four-space indentation keeps the box drawing as preformatted text in markdown;
    # Keras hands print_fn whole blocks of lines, so split them first.
    lines = "\n".join(summary_lines).splitlines()
    settings = "\n".join(f"| {k} | {v} |" for k, v in {**config.to_dict(), **facts.to_dict()}.items())
    with EventWriter(run_dir) as writer:
        writer.summary(
            hp.hparams_config_pb(
                hparams=[_hparam(name) for name in HPARAMS],
                metrics=[hp.Metric(tag, group=group) for tag, group in HPARAM_METRICS],
            ),
            step=0,
        )
        writer.summary(hp.hparams_pb(hparam_values(config, facts), trial_id=Path(run_dir).name), step=0)
        writer.text("model_summary", "\n".join("    " + line for line in lines), step=0)
        writer.text(
            "configuration", f"`{command_line}`\n\n| setting | value |\n|---|---|\n{settings}", step=0
        )


def write_test_metrics(run_dir: Path, metrics: dict, step: int) -> None:
    """The kept model's test figures (`metrics` as evaluate scores them) in RUN/test."""
    with EventWriter(Path(run_dir) / "test") as writer:
        for name, key in TEST_FIGURES:
            writer.scalar(f"epoch_{name}", metrics[key], step=step)


def write_final_samples(run_dir: Path, table: str, step: int, *, best_epoch: int | None = None) -> None:
    """The kept model's samples table, under the per-epoch tables' tag in RUN/samples.

    Pass `step` = the number of epochs completed, so the table follows the last
    epoch's (at epochs completed - 1) and a resume drops it with the epochs it redoes.
    `best_epoch` (from 0) names the epoch the kept model comes from.
    """
    origin = f" (from epoch {best_epoch + 1}, the lowest validation loss)" if best_epoch is not None else ""
    with EventWriter(Path(run_dir) / SAMPLES_FOLDER) as writer:
        writer.text(SAMPLES_TAG, f"**kept model**{origin}\n\n{table}", step=step)
