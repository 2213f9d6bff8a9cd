"""Everything a run shows in TensorBoard, as Keras callbacks the trainer just adds.

    RUN/train, RUN/validation   per-epoch scalars (Keras' TensorBoard callback):
                                epoch_loss, epoch_perplexity, epoch_accuracy, epoch_top5_accuracy;
                                train also epoch_learning_rate, epoch_seconds,
                                epoch_targets_per_second, batch_loss every --log-every
                                steps, and with --histograms weight histograms,
                                gradients/* histograms and gradient_norm/* scalars
    RUN/test                    the final figures on the held-out test split
    RUN (itself)                hparams, model_summary and configuration (text)
    RUN/samples                 next_word_predictions: top-5 next words for fixed prompts
                                at every epoch end (a markdown table)
    RUN/projector               learned word embeddings with the vocabulary as metadata

Epoch summaries use the epoch (0-based) as their step; batch_loss uses the global
training step, which a resumed run continues. docs/monitoring.md shows where each
appears in TensorBoard.

TensorBoard's writers need TensorFlow; on another backend without it the trainer
runs on and says that nothing is logged.
"""

from __future__ import annotations

import glob
import math
import os
import time
from pathlib import Path

import numpy as np

from word_predictor.backend import keras
from word_predictor.config import CELLS, TARGETS, Config
from word_predictor.text import Vocabulary

try:
    import tensorflow as tf
    from tensorboard.plugins import projector
    from tensorboard.plugins.hparams import api as hp
    from tensorboard.plugins.hparams import api_pb2 as hparams_api_pb2
except ImportError:  # another Keras backend, without TensorFlow installed
    tf = None

DEFAULT_PROMPT = "some of them looks like"
SAMPLES_TAG = "next_word_predictions"
# Hyperparameters shown side by side in the HParams dashboard.
HPARAMS = (
    "cell", "bidirectional", "layers", "units", "embedding_dim", "one_hot", "targets", "window_size",
    "unknown_threshold", "dropout", "batch_size", "learning_rate", "clip_norm", "vocabulary_size",
    "corpus_tokens",
)  # fmt: skip
# (tag, group) pairs: final values become the HParams dashboard's metric columns.
HPARAM_METRICS = [
    (f"epoch_{name}", group)
    for group in ("validation", "test")
    for name in ("loss", "perplexity", "accuracy", "top5_accuracy")
]
# Tags whose step is the global training step rather than the epoch: Keras'
# callback writes validation figures against optimizer iterations as well.
GLOBAL_STEP_PREFIXES = ("batch_", "evaluation_")


def available() -> bool:
    return tf is not None


def perplexity(loss: float) -> float:
    loss = float(loss)
    return math.exp(loss) if loss < 700 else math.inf


class EpochFigures(keras.callbacks.Callback):
    """Adds perplexity, seconds and training targets per second to each epoch's logs.

    Goes before the TensorBoard callback in the list, which then writes them.
    `seconds` is the whole epoch; the throughput counts the training part only,
    up to the start of validation.
    """

    def __init__(self, targets_per_epoch: int):
        super().__init__()
        self.targets_per_epoch = targets_per_epoch
        self._start = 0.0
        self._training_end: float | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._training_end = None

    def on_test_begin(self, logs=None):
        if self._training_end is None:
            self._training_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        end = time.perf_counter()
        training_seconds = (self._training_end or end) - self._start
        for prefix in ("", "val_"):
            if f"{prefix}loss" in logs:
                logs[f"{prefix}perplexity"] = perplexity(logs[f"{prefix}loss"])
        logs["seconds"] = end - self._start
        logs["targets_per_second"] = self.targets_per_epoch / training_seconds if training_seconds else 0.0


class _Writing(keras.callbacks.Callback):
    """A callback with its own summary writer, open for the length of one fit()."""

    def __init__(self, log_dir: Path):
        super().__init__()
        self.log_dir = Path(log_dir)
        self.writer = None

    def on_train_begin(self, logs=None):
        self.writer = tf.summary.create_file_writer(str(self.log_dir))

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class BatchLoss(_Writing):
    """The loss of single training batches, every `every` steps, at the global step.

    Keras hands batch callbacks the epoch's running mean of the loss, weighted by
    each batch's windows, so logging it as is would draw a sawtooth of epoch
    averages. Two consecutive means give the batch's own loss back:

        mean_k = (seen_k-1 * mean_k-1 + size_k * loss_k) / seen_k
        loss_k = (seen_k * mean_k - seen_k-1 * mean_k-1) / size_k

    (exact up to float32 rounding of the means: about 1e-7 x k, far below the
    batch-to-batch noise). Every batch holds `batch_size` windows but an epoch's
    last, which holds the rest.
    """

    def __init__(self, log_dir: Path, every: int, first_step: int, batch_size: int, windows_per_epoch: int):
        super().__init__(log_dir)
        self.every = every
        self.step = first_step
        self.batch_size = batch_size
        self.windows_per_epoch = windows_per_epoch
        self._previous_mean = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._previous_mean = 0.0  # Keras resets its running mean at each epoch

    def _seen(self, batches: int) -> int:
        return min(batches * self.batch_size, self.windows_per_epoch)

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if not logs or "loss" not in logs:
            return
        mean = float(logs["loss"])
        seen_before, seen = self._seen(batch), self._seen(batch + 1)
        loss = (seen * mean - seen_before * self._previous_mean) / max(seen - seen_before, 1)
        self._previous_mean = mean
        if self.every and self.step % self.every == 0:
            with self.writer.as_default():
                tf.summary.scalar("batch_loss", loss, step=self.step)


class PredictionSamples(_Writing):
    """At each epoch end, the top-5 next words for fixed prompts, as a markdown table."""

    def __init__(self, log_dir: Path, samples):
        super().__init__(log_dir)
        self.samples = samples

    def on_epoch_end(self, epoch, logs=None):
        table = f"epoch {epoch + 1}\n\n" + self.samples(self.model)
        with self.writer.as_default():
            tf.summary.text(SAMPLES_TAG, table, step=epoch)
        self.writer.flush()


def write_final_samples(run_dir: Path, table: str, step: int) -> None:
    writer = tf.summary.create_file_writer(str(Path(run_dir) / "samples"))
    with writer.as_default():
        tf.summary.text(SAMPLES_TAG, table, step=step)
    writer.close()


class GradientNorms(_Writing):
    """Per-epoch gradient norm of each weight on one fixed training batch (TensorFlow backend)."""

    def __init__(self, log_dir: Path, batch):
        super().__init__(log_dir)
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


if tf is not None:

    class _Number(hp.Domain):
        """Any number: tells the HParams dashboard to sort and filter the column as numbers."""

        dtype = float

        def sample_uniform(self, rng=None):
            raise NotImplementedError("an unbounded domain cannot be sampled")

        def update_hparam_info(self, hparam_info):
            hparam_info.type = hparams_api_pb2.DATA_TYPE_FLOAT64


def _hparam(name: str):
    domains = {
        "cell": hp.Discrete(list(CELLS)),
        "targets": hp.Discrete(list(TARGETS)),
        "bidirectional": hp.Discrete([False, True]),
        "one_hot": hp.Discrete([False, True]),
    }
    return hp.HParam(name, domains.get(name, _Number()))


def hparam_values(config: Config) -> dict:
    settings = config.to_dict()
    values = {name: settings[name] for name in HPARAMS}
    if config.one_hot:
        values["embedding_dim"] = 0  # a one-hot model has no embedding; don't show the unused default
    return values


def write_run_description(run_dir: Path, config: Config, model: keras.Model, command_line: str) -> None:
    """Once per run: hparams for the HParams dashboard, the model summary and settings as text."""
    writer = tf.summary.create_file_writer(str(run_dir))
    summary_lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: summary_lines.append(line), line_length=100)
    settings = "\n".join(f"| {k} | {v} |" for k, v in config.to_dict().items())
    with writer.as_default():
        hp.hparams_config(
            hparams=[_hparam(name) for name in HPARAMS],
            metrics=[hp.Metric(tag, group=group) for tag, group in HPARAM_METRICS],
        )
        hp.hparams(hparam_values(config), trial_id=run_dir.name)
        # Four-space indentation keeps the box drawing as preformatted text in markdown;
        # Keras hands print_fn whole blocks of lines, so split them first.
        lines = "\n".join(summary_lines).splitlines()
        tf.summary.text("model_summary", "\n".join("    " + line for line in lines), step=0)
        configuration = f"`{command_line}`\n\n| setting | value |\n|---|---|\n{settings}"
        tf.summary.text("configuration", configuration, step=0)
    writer.close()


def write_test_metrics(run_dir: Path, metrics: dict, step: int) -> None:
    writer = tf.summary.create_file_writer(str(Path(run_dir) / "test"))
    with writer.as_default():
        for name, key in (
            ("loss", "loss"), ("perplexity", "perplexity"), ("accuracy", "top1"), ("top5_accuracy", "top5")
        ):  # fmt: skip
            tf.summary.scalar(f"epoch_{name}", metrics[key], step=step)
    writer.close()


def write_projector(run_dir: Path, model: keras.Model, vocabulary: Vocabulary) -> bool:
    """Word embeddings for TensorBoard's projector, written with its own API.

        RUN/projector/  projector_config.pbtxt   tensor name -> checkpoint, metadata.tsv
                        embedding.ckpt-1.*       the (vocabulary, embedding_dim) table
                        metadata.tsv             one word per line, in id order
                        events.out.tfevents.*    makes the folder a run TensorBoard lists

    (Keras 3's TensorBoard callback writes a projector config that points at no
    tensor, so the checkpoint and config are written here. TensorBoard looks for
    projector configs only in runs, folders with an event file, hence the text
    summary.)
    """
    try:
        embedding = model.get_layer("embedding")
    except ValueError:
        return False  # a one-hot model has no embedding table
    folder = Path(run_dir) / "projector"
    folder.mkdir(exist_ok=True)
    metadata = "\n".join(token.replace("\t", " ") for token in vocabulary.tokens) + "\n"
    (folder / "metadata.tsv").write_text(metadata, encoding="utf-8")
    table = keras.ops.convert_to_numpy(embedding.embeddings)  # (vocabulary, embedding_dim)
    checkpoint = tf.train.Checkpoint(embedding=tf.Variable(table))
    checkpoint.save(str(folder / "embedding.ckpt"))
    config = projector.ProjectorConfig()
    entry = config.embeddings.add()
    entry.tensor_name = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
    entry.metadata_path = "metadata.tsv"
    projector.visualize_embeddings(str(folder), config)
    writer = tf.summary.create_file_writer(str(folder))
    with writer.as_default():
        tf.summary.text(
            "embedding",
            f"{table.shape[0]} words x {table.shape[1]} dimensions, from the best model; "
            "open the Projector tab to explore them.",
            step=0,
        )
    writer.close()
    return True


def truncate_events(run_dir: Path, epochs_completed: int, global_step: int) -> None:
    """Before a resume: drop events written after the checkpoint being resumed from.

    An interrupted epoch may have logged batch steps (and even epoch figures) that
    the resumed run will log again; rewriting each event file without them keeps
    every step exactly once.
    """
    from tensorboard.compat.proto import event_pb2

    for path in glob.glob(os.path.join(run_dir, "**", "events.out.tfevents.*"), recursive=True):
        if path.endswith(".partial"):  # left by a resume killed while rewriting below
            os.remove(path)
            continue
        kept = []
        changed = False
        # test/ and projector/ hold the final scoring, which a resumed run always does again.
        redone = os.path.basename(os.path.dirname(path)) in ("test", "projector")
        try:
            for record in tf.data.TFRecordDataset(path):
                event = event_pb2.Event.FromString(record.numpy())
                if event.HasField("summary") and event.summary.value:
                    global_step_tag = any(v.tag.startswith(GLOBAL_STEP_PREFIXES) for v in event.summary.value)
                    limit = global_step if global_step_tag else epochs_completed - 1
                    if event.step > limit or redone:
                        changed = True
                        continue
                kept.append(record.numpy())
        except tf.errors.DataLossError:
            changed = True  # the kill cut the last record short: drop it with the rest
        if changed:
            temporary = path + ".partial"
            with tf.io.TFRecordWriter(temporary) as writer:
                for record in kept:
                    writer.write(record)
            os.replace(temporary, path)


def callbacks(
    run_dir: Path,
    config: Config,
    *,
    samples,
    targets_per_epoch: int,
    windows_per_epoch: int,
    first_step: int,
    gradient_batch=None,
    input_seconds=None,
) -> list[keras.callbacks.Callback]:
    figures = EpochFigures(targets_per_epoch)
    result = [
        figures,
        keras.callbacks.TensorBoard(
            log_dir=str(run_dir),
            histogram_freq=1 if config.histograms else 0,
            write_graph=False,
            update_freq="epoch",
            profile_batch=0,
        ),
        BatchLoss(
            Path(run_dir) / "train", config.log_every, first_step, config.batch_size, windows_per_epoch
        ),
        PredictionSamples(Path(run_dir) / "samples", samples),
    ]
    if config.histograms and gradient_batch is not None:
        result.append(GradientNorms(Path(run_dir) / "train", gradient_batch))
    return result
