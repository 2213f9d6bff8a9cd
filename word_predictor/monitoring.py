"""Everything a run shows in TensorBoard, as Keras callbacks the trainer just adds.

    RUN/train, RUN/validation   per-epoch scalars (Keras' TensorBoard callback):
                                loss, perplexity, accuracy, top5_accuracy;
                                train also learning_rate, seconds, targets_per_second,
                                batch_loss every --log-every steps, and with
                                --histograms weights and gradient norms
    RUN/test                    the final figures on the held-out test split
    RUN (itself)                hparams, model summary, configuration
    RUN/samples                 top-5 next words for fixed prompts at every epoch end
    RUN/projector               learned word embeddings with the vocabulary as metadata

TensorBoard's writers need TensorFlow; on another backend without it the trainer
runs on and says that nothing is logged.
"""

from __future__ import annotations

import glob
import math
import os
import time
from pathlib import Path

import keras
import numpy as np

from word_predictor.config import Config
from word_predictor.model import NextWord
from word_predictor.text import UNKNOWN_ID, Vocabulary, words
from word_predictor.windows import context_ids

try:
    import tensorflow as tf
    from tensorboard.plugins import projector
    from tensorboard.plugins.hparams import api as hp
except ImportError:  # another Keras backend, without TensorFlow installed
    tf = None

DEFAULT_PROMPT = "some of them looks like"
# Hyperparameters shown side by side in the HParams dashboard.
HPARAMS = (
    "cell", "bidirectional", "layers", "units", "embedding_dim", "one_hot", "targets", "chunk_size",
    "unknown_threshold", "dropout", "batch_size", "learning_rate", "clip_norm", "vocabulary_size",
    "corpus_tokens",
)  # fmt: skip
# (tag, group) pairs: final values become the HParams dashboard's metric columns.
HPARAM_METRICS = [
    (f"epoch_{name}", group)
    for group in ("validation", "test")
    for name in ("loss", "perplexity", "accuracy", "top5_accuracy")
]


def available() -> bool:
    return tf is not None


class EpochFigures(keras.callbacks.Callback):
    """Adds perplexity, seconds and targets per second to each epoch's logs.

    Goes before the TensorBoard callback in the list, which then writes them.
    """

    def __init__(self, targets_per_epoch: int):
        super().__init__()
        self.targets_per_epoch = targets_per_epoch
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        seconds = time.perf_counter() - self._start
        for prefix in ("", "val_"):
            if f"{prefix}loss" in logs:
                logs[f"{prefix}perplexity"] = perplexity(logs[f"{prefix}loss"])
        logs["seconds"] = seconds
        logs["targets_per_second"] = self.targets_per_epoch / seconds if seconds > 0 else 0.0


def perplexity(loss: float) -> float:
    loss = float(loss)
    return math.exp(loss) if loss < 700 else math.inf


class BatchLoss(keras.callbacks.Callback):
    """Training loss every `every` steps, at the global step (which resume continues)."""

    def __init__(self, log_dir: Path, every: int, first_step: int = 0):
        super().__init__()
        self.writer = tf.summary.create_file_writer(str(log_dir))
        self.every = every
        self.step = first_step

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.every and self.step % self.every == 0 and logs and "loss" in logs:
            with self.writer.as_default():
                tf.summary.scalar("batch_loss", float(logs["loss"]), step=self.step)

    def on_train_end(self, logs=None):
        self.writer.flush()


def prediction_table(next_word: NextWord, vocabulary: Vocabulary, config: Config, prompts: list[str], k=5) -> str:
    """A markdown table: each prompt with its top-k next words and probabilities."""
    rows = ["| context | top next words |", "|---|---|"]
    for prompt in prompts:
        context = words(prompt)
        if not context:
            continue
        ids = context_ids(context, vocabulary, config.chunk_size, pad=config.targets == "last")
        probabilities = next_word(ids)[0]
        best = np.argsort(probabilities)[::-1][:k]
        shown = ", ".join(f"{vocabulary.tokens[i]} ({probabilities[i]:.3f})" for i in best)
        rows.append(f"| {' '.join(context[-config.chunk_size:])} | {shown} |")
    return "\n".join(rows)


def sample_prompts(config: Config, validation_ids: np.ndarray, vocabulary: Vocabulary, count: int = 3) -> list[str]:
    """The classic prompt, contexts spread through the validation split, and the user's."""
    prompts = [DEFAULT_PROMPT]
    n = validation_ids.size - config.chunk_size
    for i in range(count):
        if n <= 0:
            break
        start = (i + 1) * n // (count + 1)
        window = validation_ids[start : start + config.chunk_size]
        if not np.any(window == UNKNOWN_ID):
            prompts.append(" ".join(vocabulary.decode(window)))
    return prompts + list(config.sample_prompts)


class PredictionSamples(keras.callbacks.Callback):
    def __init__(self, log_dir: Path, vocabulary: Vocabulary, config: Config, prompts: list[str]):
        super().__init__()
        self.writer = tf.summary.create_file_writer(str(log_dir))
        self.vocabulary = vocabulary
        self.config = config
        self.prompts = prompts
        self._next_word: NextWord | None = None

    def on_epoch_end(self, epoch, logs=None):
        if self._next_word is None:
            self._next_word = NextWord(self.model)
        table = prediction_table(self._next_word, self.vocabulary, self.config, self.prompts)
        with self.writer.as_default():
            tf.summary.text("next_word_predictions", table, step=epoch)
        self.writer.flush()


class GradientNorms(keras.callbacks.Callback):
    """Per-epoch gradient norm of each weight on one fixed training batch (TensorFlow backend)."""

    def __init__(self, log_dir: Path, batch):
        super().__init__()
        self.writer = tf.summary.create_file_writer(str(log_dir))
        self.batch = batch

    def on_epoch_end(self, epoch, logs=None):
        if keras.backend.backend() != "tensorflow":
            return
        inputs, targets = self.batch[0], self.batch[1]
        with tf.GradientTape() as tape:
            logits = self.model(inputs, training=False)
            loss = self.model.loss(targets, logits)
        weights = self.model.trainable_weights
        gradients = tape.gradient(loss, [w.value for w in weights])
        with self.writer.as_default():
            norms = []
            for weight, gradient in zip(weights, gradients):
                if gradient is None:
                    continue
                gradient = tf.convert_to_tensor(gradient)
                norm = float(tf.norm(gradient))
                norms.append(norm)
                tf.summary.scalar(f"gradient_norm/{weight.path}", norm, step=epoch)
                tf.summary.histogram(f"gradients/{weight.path}", gradient, step=epoch)
            tf.summary.scalar("gradient_norm/global", float(np.sqrt(np.sum(np.square(norms)))), step=epoch)
        self.writer.flush()


def write_run_description(run_dir: Path, config: Config, model: keras.Model, command_line: str) -> None:
    """Once per run: hparams for the HParams dashboard, the model summary and settings as text."""
    writer = tf.summary.create_file_writer(str(run_dir))
    summary_lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: summary_lines.append(line), line_length=100)
    settings = "\n".join(f"| {k} | {v} |" for k, v in config.to_dict().items())
    with writer.as_default():
        hp.hparams_config(
            hparams=[hp.HParam(name) for name in HPARAMS],
            metrics=[hp.Metric(tag, group=group) for tag, group in HPARAM_METRICS],
        )
        hp.hparams(hparam_values(config), trial_id=run_dir.name)
        # Four-space indentation keeps the box drawing as preformatted text in markdown.
        tf.summary.text("model_summary", "\n".join("    " + line for line in summary_lines), step=0)
        tf.summary.text("configuration", f"`{command_line}`\n\n| setting | value |\n|---|---|\n{settings}", step=0)
    writer.close()


def hparam_values(config: Config) -> dict:
    values = config.to_dict()
    return {name: values[name] for name in HPARAMS}


def write_test_metrics(run_dir: Path, metrics: dict, step: int) -> None:
    writer = tf.summary.create_file_writer(str(Path(run_dir) / "test"))
    with writer.as_default():
        for name, key in (("loss", "loss"), ("perplexity", "perplexity"), ("accuracy", "top1"), ("top5_accuracy", "top5")):
            tf.summary.scalar(f"epoch_{name}", metrics[key], step=step)
    writer.close()


def write_projector(run_dir: Path, model: keras.Model, vocabulary: Vocabulary) -> bool:
    """Word embeddings for TensorBoard's projector, written with its own API.

    (Keras 3's TensorBoard callback writes a projector config that points at no
    tensor, so the checkpoint and config are written here.)
    """
    try:
        embedding = model.get_layer("embedding")
    except ValueError:
        return False  # a one-hot model has no embedding table
    folder = Path(run_dir) / "projector"
    folder.mkdir(exist_ok=True)
    metadata = "\n".join(token.replace("\t", " ") for token in vocabulary.tokens) + "\n"
    (folder / "metadata.tsv").write_text(metadata, encoding="utf-8")
    checkpoint = tf.train.Checkpoint(embedding=tf.Variable(keras.ops.convert_to_numpy(embedding.embeddings)))
    checkpoint.save(str(folder / "embedding.ckpt"))
    config = projector.ProjectorConfig()
    entry = config.embeddings.add()
    entry.tensor_name = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
    entry.metadata_path = "metadata.tsv"
    projector.visualize_embeddings(str(folder), config)
    return True


def truncate_events(run_dir: Path, epochs_completed: int, global_step: int) -> None:
    """Before a resume: drop events written after the checkpoint being resumed from.

    An interrupted epoch may have logged batch steps (and even epoch figures) that
    the resumed run will log again; rewriting each event file without them keeps
    every step exactly once.
    """
    from tensorboard.compat.proto import event_pb2

    for path in glob.glob(os.path.join(run_dir, "**", "events.out.tfevents.*"), recursive=True):
        kept = []
        changed = False
        for record in tf.data.TFRecordDataset(path):
            event = event_pb2.Event.FromString(record.numpy())
            if event.HasField("summary") and event.summary.value:
                batch_level = any(v.tag.startswith("batch_") for v in event.summary.value)
                limit = global_step if batch_level else epochs_completed - 1
                if event.step > limit:
                    changed = True
                    continue
            kept.append(record.numpy())
        if changed:
            temporary = path + ".partial"
            with tf.io.TFRecordWriter(temporary) as writer:
                for record in kept:
                    writer.write(record)
            os.replace(temporary, path)


def callbacks(
    run_dir: Path,
    config: Config,
    vocabulary: Vocabulary,
    *,
    prompts: list[str],
    targets_per_epoch: int,
    first_step: int,
    gradient_batch=None,
) -> list[keras.callbacks.Callback]:
    figures = EpochFigures(targets_per_epoch)
    if not available():
        return [figures]
    result = [
        figures,
        keras.callbacks.TensorBoard(
            log_dir=str(run_dir),
            histogram_freq=1 if config.histograms else 0,
            write_graph=False,
            update_freq="epoch",
            profile_batch=0,
        ),
        BatchLoss(Path(run_dir) / "train", config.log_every, first_step),
        PredictionSamples(Path(run_dir) / "samples", vocabulary, config, prompts),
    ]
    if config.histograms and gradient_batch is not None:
        result.append(GradientNorms(Path(run_dir) / "train", gradient_batch))
    return result
