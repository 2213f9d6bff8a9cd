"""What a run shows in TensorBoard, read back with TensorBoard's own event reader.

TF2 summaries are stored as tensors, so every tag is read with `.Tensors(tag)`;
the plugin named in each tag's metadata says which dashboard shows it.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins import projector
from tensorboard.plugins.hparams import metadata as hparams_metadata

from tests.conftest import TINY_TEXT
from word_predictor import monitoring, rundir, train, trainer
from word_predictor.config import Config, load_config
from word_predictor.corpus import Split
from word_predictor.text import Vocabulary, words
from word_predictor.windows import window_starts

EPOCH_TAGS = ("epoch_loss", "epoch_perplexity", "epoch_accuracy", "epoch_top5_accuracy")


def events(folder) -> EventAccumulator:
    accumulator = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    accumulator.Reload()
    return accumulator


def values(folder, tag) -> list[tuple[int, float | str]]:
    """(step, value) of one tag: floats for scalars, text for text summaries."""
    result = []
    for event in events(folder).Tensors(tag):
        array = tf.make_ndarray(event.tensor_proto)
        result.append((event.step, array.item().decode() if array.dtype == object else float(array)))
    return result


def plugin_tags(folder, plugin: str) -> set[str]:
    accumulator = events(folder)
    return {
        tag for tag in accumulator.Tags()["tensors"]
        if accumulator.SummaryMetadata(tag).plugin_data.plugin_name == plugin
    }  # fmt: skip


def settings(run_dir) -> Config:
    return load_config(run_dir / rundir.CONFIG_FILE)[0]


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
def test_test_split_figures_match_metrics_json(trained_run):
    test = json.loads((trained_run / rundir.METRICS_FILE).read_text())["test"]
    for tag, key in zip(EPOCH_TAGS, ("loss", "perplexity", "top1", "top5")):
        [(step, value)] = values(trained_run / "test", tag)
        assert step == 1 and value == pytest.approx(test[key], rel=1e-6), tag


@pytest.mark.slow
def test_learning_rate_seconds_and_throughput(monitored_logdir):
    train_dir = monitored_logdir / "gru" / "train"
    assert values(train_dir, "epoch_learning_rate") == [(0, pytest.approx(0.01)), (1, pytest.approx(0.01))]
    seconds = [s for _, s in values(train_dir, "epoch_seconds")]
    throughput = [t for _, t in values(train_dir, "epoch_targets_per_second")]
    assert len(seconds) == len(throughput) == 2
    assert all(s > 0 for s in seconds) and all(math.isfinite(t) and t > 0 for t in throughput)


@pytest.mark.slow
def test_batch_loss_every_log_every_steps(trained_run):
    state = rundir.read_json(trained_run / rundir.CHECKPOINT_DIR / rundir.CHECKPOINT_STATE)
    global_step = state["global_step"]
    steps = [step for step, _ in values(trained_run / "train", "batch_loss")]
    assert steps == list(range(5, global_step + 1, 5))  # --log-every 5, global steps from 1


@pytest.mark.slow
def test_batch_loss_is_each_batchs_own_loss(monitored_logdir):
    """Weighted by windows per batch, the batch losses of an epoch average to its epoch_loss.

    (Keras' running mean, logged as is, would not: it would end each epoch at the epoch loss.)
    """
    run_dir = monitored_logdir / "gru"
    config = settings(run_dir)
    windows = window_starts(trainer.corpus_for(config).splits["train"].bounds, config.window_size).size
    per_epoch = math.ceil(windows / config.batch_size)
    sizes = np.minimum(config.batch_size, windows - config.batch_size * np.arange(per_epoch))
    batch_losses = values(run_dir / "train", "batch_loss")
    assert [step for step, _ in batch_losses] == list(range(1, 2 * per_epoch + 1))  # --log-every 1
    for epoch, (_, epoch_loss) in enumerate(values(run_dir / "train", "epoch_loss")):
        losses = np.array([loss for _, loss in batch_losses[epoch * per_epoch : (epoch + 1) * per_epoch]])
        assert np.dot(sizes, losses) / windows == pytest.approx(epoch_loss, rel=1e-5)
        assert np.std(losses) > 0


# --- text: samples, model summary, configuration ---------------------------------------


def table_rows(markdown: str) -> list[tuple[str, list[tuple[str, float]]]]:
    lines = markdown.splitlines()
    lines = lines[lines.index("| context | top next words |") :]  # after the label
    lines = lines[: lines.index("")] if "" in lines else lines  # up to the sampled continuations
    assert lines[:2] == ["| context | top next words |", "|---|---|"]
    rows = []
    for line in lines[2:]:
        context, shown = (cell.strip() for cell in line.strip("|").split("|"))
        rows.append((context, [(w, float(p)) for w, p in re.findall(r"(\S+) \((\d\.\d{3})\)", shown)]))
    return rows


@pytest.mark.slow
def test_samples_show_top5_for_fixed_prompts_each_epoch(monitored_logdir):
    run_dir = monitored_logdir / "gru"
    vocabulary = Vocabulary.load(run_dir / rundir.VOCABULARY_FILE)
    samples = values(run_dir / "samples", monitoring.SAMPLES_TAG)
    # one table per epoch, labelled, then the kept (best) model's table after the last epoch
    assert [step for step, _ in samples] == [0, 1, 2]
    assert [table.splitlines()[0] for _, table in samples] == ["epoch 1", "epoch 2", "kept model (epoch 2)"]
    text = " ".join(words(TINY_TEXT * 2))
    for _, table in samples:
        rows = table_rows(table)
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
    assert table_rows(samples[0][1]) != table_rows(samples[1][1])  # the model learnt between the two epochs


@pytest.mark.slow
def test_samples_show_a_sampled_continuation_of_each_prompt(monitored_logdir):
    run_dir = monitored_logdir / "gru"
    vocabulary = Vocabulary.load(run_dir / rundir.VOCABULARY_FILE)
    samples = values(run_dir / "samples", monitoring.SAMPLES_TAG)
    for _, text in samples:
        contexts = [context for context, _ in table_rows(text)]
        lines = text.split("\n\n")[-1].splitlines()
        assert lines[:2] == ["| context | sampled continuation (20 words, temperature 1, seed 0) |", "|---|---|"]
        rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
        assert [context for context, _ in rows] == contexts  # the same prompts as the top-5 table
        for _, continuation in rows:
            assert len(continuation.split()) == 20 and all(word in vocabulary for word in continuation.split())


@pytest.mark.slow
def test_model_summary_and_configuration_as_text(monitored_logdir):
    run_dir = monitored_logdir / "gru"
    assert plugin_tags(run_dir, "text") == {"model_summary", "configuration"}
    [(step, summary)] = values(run_dir, "model_summary")
    assert step == 0
    for layer in ("tokens", "embedding", "gru_1", "dropout_1", "next_word", "Total params"):
        assert layer in summary
    assert all(line.startswith("    ") for line in summary.splitlines())  # preformatted in markdown
    [(_, configuration)] = values(run_dir, "configuration")
    assert "--cell gru" in configuration and "| units | 8 |" in configuration


# --- hparams -----------------------------------------------------------------------------


def session_hparams(run_dir) -> dict:
    content = events(run_dir).SummaryMetadata(hparams_metadata.SESSION_START_INFO_TAG).plugin_data.content
    start = hparams_metadata.parse_session_start_info_plugin_data(content)
    return {name: getattr(value, value.WhichOneof("kind")) for name, value in start.hparams.items()}


@pytest.mark.slow
def test_hparams_of_each_run(monitored_logdir):
    gru, bi = session_hparams(monitored_logdir / "gru"), session_hparams(monitored_logdir / "bi")
    assert set(gru) == set(bi) == set(monitoring.HPARAMS)
    config = settings(monitored_logdir / "gru")
    assert gru["cell"] == "gru" and gru["bidirectional"] is False and gru["one_hot"] is False
    assert gru["units"] == 8 and gru["embedding_dim"] == 4 and gru["learning_rate"] == pytest.approx(0.01)
    assert gru["vocabulary_size"] == config.vocabulary_size and gru["corpus_tokens"] == config.corpus_tokens
    assert gru["batch_size"] == 16 and gru["window_size"] == 5 and gru["unknown_threshold"] == 1
    assert bi["cell"] == "simple_rnn" and bi["bidirectional"] is True and bi["targets"] == "last"
    assert bi["one_hot"] is True and bi["embedding_dim"] == 0  # no embedding, not the unused default


@pytest.mark.slow
def test_hparams_experiment_declares_metrics_and_cell_choices(trained_run):
    content = events(trained_run).SummaryMetadata(hparams_metadata.EXPERIMENT_TAG).plugin_data.content
    experiment = hparams_metadata.parse_experiment_plugin_data(content)
    infos = {info.name: info for info in experiment.hparam_infos}
    assert set(infos) == set(monitoring.HPARAMS)
    assert {v.string_value for v in infos["cell"].domain_discrete.values} == {"simple_rnn", "lstm", "gru"}
    metrics = {(m.name.group, m.name.tag) for m in experiment.metric_infos}
    assert len(metrics) == 8
    assert ("validation", "epoch_perplexity") in metrics and ("test", "epoch_accuracy") in metrics
    for group, tag in metrics:  # each metric column reads a tag that exists in that group's run
        assert values(trained_run / group, tag), (group, tag)


# --- projector ---------------------------------------------------------------------------


@pytest.mark.slow
def test_projector_points_at_the_learned_embedding(trained_run):
    folder = trained_run / "projector"
    config = text_format.Parse((folder / "projector_config.pbtxt").read_text(), projector.ProjectorConfig())
    [entry] = config.embeddings
    vocabulary = Vocabulary.load(trained_run / rundir.VOCABULARY_FILE)
    assert (folder / entry.metadata_path).read_text(encoding="utf-8").splitlines() == list(vocabulary.tokens)
    checkpoint = tf.train.latest_checkpoint(str(folder))
    table = tf.train.load_variable(checkpoint, entry.tensor_name)
    model = rundir.load_model(trained_run / rundir.MODEL_FILE)
    np.testing.assert_allclose(table, model.get_layer("embedding").get_weights()[0])
    assert table.shape == (len(vocabulary), 4)
    # An event file makes the folder a run, the only places TensorBoard's projector looks.
    assert values(folder, "embedding")[0][1].startswith(f"{len(vocabulary)} words x 4 dimensions")


@pytest.mark.slow
def test_one_hot_run_has_no_projector(monitored_logdir):
    assert not (monitored_logdir / "bi" / "projector").exists()
    assert (monitored_logdir / "gru" / "projector" / "projector_config.pbtxt").is_file()


# --- histograms --------------------------------------------------------------------------


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


@pytest.mark.slow
def test_runs_tensorboard_lists(trained_run):
    from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer

    multiplexer = EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(trained_run.parent))
    multiplexer.Reload()
    names = {f"tiny/{part}" for part in ("train", "validation", "test", "samples", "projector")} | {"tiny"}
    assert set(multiplexer.Runs()) == names


# --- units without training --------------------------------------------------------------


def test_truncate_events_before_a_resume(tmp_path):
    """Epoch figures after the last completed epoch go, and so do global-step figures
    (batch_loss, Keras' evaluation_*_vs_iterations) after the checkpoint's step."""
    for folder, tag, steps in (
        ("train", "epoch_loss", range(3)),
        ("train", "batch_loss", range(1, 31)),
        ("validation", "epoch_loss", range(3)),
        ("validation", "evaluation_loss_vs_iterations", (10, 20, 30)),
    ):
        writer = tf.summary.create_file_writer(str(tmp_path / folder))
        with writer.as_default():
            for step in steps:
                tf.summary.scalar(tag, float(step), step=step)
        writer.close()
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        tf.summary.text("model_summary", "a model", step=0)
    writer.close()
    monitoring.truncate_events(tmp_path, epochs_completed=2, global_step=20)

    def steps(folder, tag):
        return [step for step, _ in values(tmp_path / folder, tag)]

    assert steps("train", "epoch_loss") == [0, 1] == steps("validation", "epoch_loss")
    assert steps("train", "batch_loss") == list(range(1, 21))
    assert steps("validation", "evaluation_loss_vs_iterations") == [10, 20]
    assert steps(".", "model_summary") == [0]


def test_perplexity_of_a_huge_loss_is_infinite():
    assert monitoring.perplexity(math.log(20.0)) == pytest.approx(20.0)
    assert monitoring.perplexity(1e4) == math.inf
