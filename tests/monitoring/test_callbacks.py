"""What the callbacks write while a run trains, read back with TensorBoard's own event reader.

Summaries are stored as tensors, so every tag is read with `.Tensors(tag)`; the
plugin named in each tag's metadata says which dashboard shows it. Nothing here
needs TensorFlow: CI runs this file on TensorFlow and again on JAX without it.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from tests.helpers import EPOCH_TAGS, TINY_TEXT, plugin_tags, saved_config, table_rows, tiny_model, values
from word_predictor import folder_files, monitoring, rundir
from word_predictor.backend import keras
from word_predictor.batches.windows import window_starts
from word_predictor.monitoring.callbacks import EpochFigures, EpochScalars
from word_predictor.monitoring.writer import RunWriters
from word_predictor.text.tokenizer import words
from word_predictor.text.vocabulary import Vocabulary
from word_predictor.training.run_corpus import corpus_for

pytestmark = pytest.mark.backend


# --- scalars -----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("split", ["train", "validation"])
def test_epoch_scalars_per_split(trained_run, split):
    figures = {tag: values(trained_run / split, tag) for tag in EPOCH_TAGS}
    for tag, series in figures.items():
        assert [step for step, _ in series] == [0, 1], tag
    for (_, loss), (_, ppl) in zip(figures["epoch_loss"], figures["epoch_perplexity"]):
        assert ppl == pytest.approx(math.exp(loss), rel=1e-5)
    for (_, top1), (_, top5) in zip(figures["epoch_accuracy"], figures["epoch_top5_accuracy"]):
        assert 0.0 <= top1 <= top5 <= 1.0


@pytest.mark.slow
def test_best_validation_loss_is_the_lowest_logged(trained_run):
    metrics = json.loads((trained_run / rundir.METRICS_FILE).read_text())
    logged = [loss for _, loss in values(trained_run / "validation", "epoch_loss")]
    assert min(logged) == pytest.approx(metrics["best_validation_loss"], rel=1e-6)


@pytest.mark.slow
def test_learning_rate_seconds_and_throughput(monitored_logdir):
    train_dir = monitored_logdir / "gru" / "train"
    assert values(train_dir, "epoch_learning_rate") == [(0, pytest.approx(0.01)), (1, pytest.approx(0.01))]
    seconds = [s for _, s in values(train_dir, "epoch_seconds")]
    throughput = [t for _, t in values(train_dir, "epoch_targets_per_second")]
    assert len(seconds) == len(throughput) == 2
    assert all(s > 0 for s in seconds) and all(math.isfinite(t) and t > 0 for t in throughput)
    assert plugin_tags(monitored_logdir / "gru" / "validation", "scalars") == set(EPOCH_TAGS)


@pytest.mark.slow
def test_batch_loss_every_log_every_steps(trained_run):
    state = folder_files.read_json(trained_run / rundir.CHECKPOINT_DIR / rundir.CHECKPOINT_STATE)
    global_step = state["global_step"]
    steps = [step for step, _ in values(trained_run / "train", "batch_loss")]
    assert steps == list(range(5, global_step + 1, 5))  # --log-every 5, global steps from 1


@pytest.mark.slow
def test_batch_loss_is_each_batchs_own_loss(monitored_logdir):
    """Weighted by windows per batch, the batch losses of an epoch average to its epoch_loss.

    (Keras' running mean, logged as is, would not: it would end each epoch at the epoch loss.)
    """
    run_dir = monitored_logdir / "gru"
    config = saved_config(run_dir)
    windows = window_starts(corpus_for(config).splits["train"].bounds, config.window_size).size
    per_epoch = math.ceil(windows / config.batch_size)
    sizes = np.minimum(config.batch_size, windows - config.batch_size * np.arange(per_epoch))
    batch_losses = values(run_dir / "train", "batch_loss")
    assert [step for step, _ in batch_losses] == list(range(1, 2 * per_epoch + 1))  # --log-every 1
    for epoch, (_, epoch_loss) in enumerate(values(run_dir / "train", "epoch_loss")):
        losses = np.array([loss for _, loss in batch_losses[epoch * per_epoch : (epoch + 1) * per_epoch]])
        assert np.dot(sizes, losses) / windows == pytest.approx(epoch_loss, rel=1e-5)
        assert np.std(losses) > 0


class SlowBatches(keras.utils.PyDataset):
    """Batches that each take `delay` seconds to make, timed on a clock shared by several."""

    def __init__(self, batches: int, delay: float, clock: list[float]):
        super().__init__()
        rng = np.random.default_rng(batches)
        self.inputs = rng.integers(0, 15, (batches, 8, 4)).astype("int32")
        self.targets = rng.integers(0, 15, (batches, 8, 4)).astype("int32")
        self.delay = delay
        self.clock = clock

    def __len__(self):
        return len(self.inputs)

    def __getitem__(self, index):
        start = time.perf_counter()
        time.sleep(self.delay)
        self.clock[0] += time.perf_counter() - start
        return self.inputs[index], self.targets[index]


@pytest.mark.slow
def test_input_and_step_seconds_split_the_training_part(tmp_path):
    """epoch_input_seconds counts the time spent making training batches (not validation
    batches), epoch_step_seconds the rest of the training part."""
    clock = [0.0]
    delay, batches = 0.05, 6
    model = tiny_model()
    figures = EpochFigures(targets_per_epoch=batches * 8 * 4, input_seconds=lambda: clock[0])
    writers = RunWriters(tmp_path)
    model.fit(
        SlowBatches(batches, delay, clock),
        validation_data=SlowBatches(10, delay, clock),
        epochs=2,
        callbacks=[figures, EpochScalars(writers)],
        verbose=0,
    )
    seconds = [s for _, s in values(tmp_path / "train", "epoch_seconds")]
    waited = [s for _, s in values(tmp_path / "train", "epoch_input_seconds")]
    stepping = [s for _, s in values(tmp_path / "train", "epoch_step_seconds")]
    assert len(seconds) == len(waited) == len(stepping) == 2
    for total, input_seconds, step_seconds in zip(seconds, waited, stepping):
        assert input_seconds + step_seconds <= total
        # Validation made 10 slow batches within `total`; none of them counts as input.
        assert (batches - 1) * delay <= input_seconds < (batches + 3) * delay
        assert step_seconds >= 0


# --- text: samples, model summary, configuration ---------------------------------------


@pytest.mark.slow
def test_samples_show_top5_for_fixed_prompts_each_epoch(monitored_logdir):
    run_dir = monitored_logdir / "gru"
    vocabulary = Vocabulary.load(run_dir / rundir.VOCABULARY_FILE)
    samples = values(run_dir / "samples", monitoring.SAMPLES_TAG)
    # a table per epoch, then the kept model's after the last epoch
    assert [step for step, _ in samples] == [0, 1, 2]
    assert table_rows(samples[2][1])[0].startswith("**kept model** (from epoch ")
    text = " ".join(words(TINY_TEXT * 2))
    for step, table in samples:
        label, rows = table_rows(table)
        if step < 2:
            assert label == monitoring.epoch_label(step) == f"**epoch {step + 1}**"
        contexts = [context for context, _ in rows]
        assert contexts[0] == "some of them looks like" and contexts[-1] == "the cat sat"
        drawn = contexts[1:-1]
        assert len(drawn) >= 2
        for context in drawn:  # whole windows of the text, never two pieces glued together
            assert len(context.split()) == 5 and f" {context} " in f" {text} "
        for _, predictions in rows:
            assert len(predictions) == 5
            assert all(word in vocabulary for word, _ in predictions)
            probabilities = [p for _, p in predictions]
            assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.001
    assert samples[0][1] != samples[1][1]  # the model learnt between the two epochs


@pytest.mark.slow
def test_samples_show_a_sampled_continuation_of_each_prompt(monitored_logdir):
    run_dir = monitored_logdir / "gru"
    vocabulary = Vocabulary.load(run_dir / rundir.VOCABULARY_FILE)
    samples = values(run_dir / "samples", monitoring.SAMPLES_TAG)
    for _, text in samples:
        contexts = [context for context, _ in table_rows(text)[1]]
        lines = text.split("\n\n")[-1].splitlines()
        assert lines[:2] == ["| context | sampled continuation (20 words, temperature 1, seed 0) |", "|---|---|"]
        rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
        assert [context for context, _ in rows] == contexts  # the same prompts as the top-5 table
        for _, continuation in rows:
            assert len(continuation.split()) == 20 and all(word in vocabulary for word in continuation.split())


# --- histograms and gradients -------------------------------------------------------------


@pytest.mark.slow
def test_histograms_and_gradient_norms_only_with_the_flag(trained_run, monitored_logdir):
    with_flag = monitored_logdir / "gru" / "train"
    histograms = plugin_tags(with_flag, "histograms")
    weights = {"embedding/embeddings", "gru_1/gru_cell/kernel", "next_word/kernel"}
    assert {f"{weight}/histogram" for weight in weights} <= histograms
    assert {f"gradients/{weight}" for weight in weights} <= histograms
    norms = values(with_flag, "gradient_norm/global")
    assert [step for step, _ in norms] == [0, 1] and all(n > 0 for _, n in norms)
    parts = [values(with_flag, f"gradient_norm/{weight}")[0][1] for weight in weights]
    assert norms[0][1] >= max(parts)

    without = trained_run / "train"
    assert plugin_tags(without, "histograms") == set()
    assert not any(tag.startswith("gradient_norm/") for tag in plugin_tags(without, "scalars"))
