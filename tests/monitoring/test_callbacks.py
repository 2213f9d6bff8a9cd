"""What a run shows in TensorBoard, read back with TensorBoard's own event reader.

Summaries are stored as tensors, so every tag is read with `.Tensors(tag)`; the
plugin named in each tag's metadata says which dashboard shows it. Nothing here
needs TensorFlow: CI runs this file on TensorFlow and again on JAX without it.
"""

from __future__ import annotations

import json
import math
import re
import time

import numpy as np
import pytest
from google.protobuf import text_format
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.histogram.summary_v2 import histogram_pb
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig
from tensorboard.util import tensor_util

from tests.conftest import TINY_TEXT
from word_predictor import monitoring, rundir, train
from word_predictor.training import trainer
from word_predictor.backend import keras
from word_predictor.config import CONTEXTS, LEVELS, NORMALISATIONS, PRECISIONS, Config, load_config
from word_predictor.model.build import build_model
from word_predictor.model.compile import compile_model
from word_predictor.monitoring.callbacks import GRADIENTS, EpochFigures, EpochScalars, GradientNorms
from word_predictor.monitoring.events import read_records
from word_predictor.monitoring.writer import EventWriter, RunWriters, histogram_summary
from word_predictor.text.vocabulary import Vocabulary
from word_predictor.text.tokenizer import words
from word_predictor.batches.windows import window_starts

pytestmark = pytest.mark.backend

EPOCH_TAGS = ("epoch_loss", "epoch_perplexity", "epoch_accuracy", "epoch_top5_accuracy")


def events(folder) -> EventAccumulator:
    accumulator = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    accumulator.Reload()
    return accumulator


def values(folder, tag) -> list[tuple[int, float | str]]:
    """(step, value) of one tag: floats for scalars, text for text summaries; [] if absent."""
    accumulator = events(folder)
    if tag not in accumulator.Tags()["tensors"]:
        return []
    result = []
    for event in accumulator.Tensors(tag):
        array = tensor_util.make_ndarray(event.tensor_proto)
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


def tiny_model(**settings) -> keras.Model:
    config = Config(units=6, embedding_dim=3, window_size=4, vocabulary_size=15, dropout=0.0, **settings)
    model = build_model(config, "training")
    compile_model(model, config)
    return model


# --- the writer --------------------------------------------------------------------------


def test_every_kind_of_summary_reads_back(tmp_path):
    with EventWriter(tmp_path) as writer:
        writer.scalar("loss", 2.5, step=3)
        writer.scalar("loss", math.inf, step=4)
        writer.text("notes", "| a | b |\n|---|---|", step=0)
        writer.histogram("weights", np.arange(10.0), step=1)
    assert values(tmp_path, "loss") == [(3, 2.5), (4, math.inf)]
    assert values(tmp_path, "notes") == [(0, "| a | b |\n|---|---|")]
    assert plugin_tags(tmp_path, "scalars") == {"loss"}
    assert plugin_tags(tmp_path, "text") == {"notes"}
    assert plugin_tags(tmp_path, "histograms") == {"weights"}
    [event] = events(tmp_path).Tensors("weights")
    buckets = tensor_util.make_ndarray(event.tensor_proto)  # rows of [left, right, count]
    assert buckets.shape == (30, 3) and buckets[:, 2].sum() == 10
    assert buckets[0, 0] == 0.0 and buckets[-1, 1] == 9.0


@pytest.mark.parametrize(
    "data", [np.random.default_rng(0).normal(size=(40, 25)), np.full(7, 0.5), np.zeros(0)]
)
def test_histogram_matches_tensorboards_own_builder(data):
    ours = tensor_util.make_ndarray(histogram_summary("h", data).value[0].tensor)
    theirs = tensor_util.make_ndarray(histogram_pb("h", data).value[0].tensor)
    np.testing.assert_allclose(ours, theirs)


def test_histogram_leaves_out_values_that_are_not_numbers():
    counted = tensor_util.make_ndarray(histogram_summary("h", [1.0, np.nan, 2.0, np.inf]).value[0].tensor)
    assert counted[:, 2].sum() == 2 and counted[0, 0] == 1.0 and counted[-1, 1] == 2.0


def test_run_writers_share_one_file_per_folder(tmp_path):
    writers = RunWriters(tmp_path)
    writers["train"].scalar("a", 1.0, step=0)
    writers["train"].scalar("b", 2.0, step=0)
    writers["validation"].scalar("a", 3.0, step=0)
    writers.close()
    assert len(list((tmp_path / "train").glob("events.out.tfevents.*"))) == 1
    assert values(tmp_path / "train", "b") == [(0, 2.0)] and values(tmp_path / "validation", "a") == [
        (0, 3.0)
    ]


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
    assert plugin_tags(monitored_logdir / "gru" / "validation", "scalars") == set(EPOCH_TAGS)


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


def table_rows(markdown: str) -> tuple[str, list[tuple[str, list[tuple[str, float]]]]]:
    """The label and the rows of one samples table."""
    label, _, table = markdown.partition("\n\n")
    lines = table.splitlines()
    lines = lines[: lines.index("") if "" in lines else len(lines)]  # the table, not what follows it
    assert lines[:2] == ["| context | top next words |", "|---|---|"]
    rows = []
    for line in lines[2:]:
        context, shown = (cell.strip() for cell in line.strip("|").split("|"))
        rows.append((context, [(w, float(p)) for w, p in re.findall(r"(\S+) \((\d\.\d{3})\)", shown)]))
    return label, rows


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


def test_final_samples_follow_the_epochs_and_name_the_kept_epoch(tmp_path):
    table = "| context | top next words |\n|---|---|\n| the cat | sat (0.500) |"
    with EventWriter(tmp_path / "samples") as writer:
        writer.text(monitoring.SAMPLES_TAG, f"{monitoring.epoch_label(0)}\n\n{table}", step=0)
    monitoring.write_final_samples(tmp_path, table, step=1, best_epoch=0)
    [_, (step, final)] = values(tmp_path / "samples", monitoring.SAMPLES_TAG)
    label, rows = table_rows(final)
    assert step == 1 and label.startswith("**kept model** (from epoch 1")
    assert rows == [("the cat", [("sat", 0.5)])]


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
    assert gru["context"] == "window" and gru["bptt"] == 0  # windows carry no state: bptt unused
    assert gru["level"] == "word" and gru["normalisation"] == "unicode" and gru["precision"] == "float32"
    assert gru["tie_weights"] is False and gru["max_vocabulary"] == 0
    assert bi["cell"] == "simple_rnn" and bi["bidirectional"] is True and bi["targets"] == "last"
    assert bi["one_hot"] is True and bi["embedding_dim"] == 0  # no embedding, not the unused default


def test_hparams_of_a_full_context_run_show_bptt_not_window_size():
    values_ = monitoring.hparam_values(Config(context="full", bptt=70, window_size=5))
    assert values_["bptt"] == 70 and values_["window_size"] == 0


@pytest.mark.slow
def test_hparams_experiment_declares_metrics_and_choices(trained_run):
    content = events(trained_run).SummaryMetadata(hparams_metadata.EXPERIMENT_TAG).plugin_data.content
    experiment = hparams_metadata.parse_experiment_plugin_data(content)
    infos = {info.name: info for info in experiment.hparam_infos}
    assert set(infos) == set(monitoring.HPARAMS)

    def choices(name):
        return {getattr(v, v.WhichOneof("kind")) for v in infos[name].domain_discrete.values}

    assert choices("cell") == {"simple_rnn", "lstm", "gru"}
    assert choices("context") == set(CONTEXTS) and choices("level") == set(LEVELS)
    assert choices("normalisation") == set(NORMALISATIONS) and choices("precision") == set(PRECISIONS)
    assert choices("tie_weights") == {False, True}
    assert not infos["bptt"].HasField("domain_discrete") and infos["bptt"].type == api_pb2.DATA_TYPE_FLOAT64
    metrics = {(m.name.group, m.name.tag) for m in experiment.metric_infos}
    assert len(metrics) == 8
    assert ("validation", "epoch_perplexity") in metrics and ("test", "epoch_accuracy") in metrics
    for group, tag in metrics:  # each metric column reads a tag that exists in that group's run
        assert values(trained_run / group, tag), (group, tag)


# --- projector ---------------------------------------------------------------------------


@pytest.mark.slow
def test_projector_points_at_a_tensor_file_of_the_learned_embedding(trained_run):
    folder = trained_run / "projector"
    config = text_format.Parse((folder / "projector_config.pbtxt").read_text(), ProjectorConfig())
    [entry] = config.embeddings
    vocabulary = Vocabulary.load(trained_run / rundir.VOCABULARY_FILE)
    assert (folder / entry.metadata_path).read_text(encoding="utf-8").splitlines() == list(vocabulary.tokens)
    assert not config.model_checkpoint_path and not list(folder.glob("*.ckpt*"))  # no TensorFlow checkpoint
    table = np.loadtxt(folder / entry.tensor_path, delimiter="\t", dtype=np.float32)
    assert list(entry.tensor_shape) == list(table.shape) == [len(vocabulary), 4]
    model = rundir.load_model(trained_run / rundir.MODEL_FILE)
    np.testing.assert_array_equal(table, model.get_layer("embedding").get_weights()[0])
    # An event file makes the folder a run, the only places TensorBoard's projector looks.
    assert values(folder, "embedding")[0][1].startswith(f"{len(vocabulary)} words x 4 dimensions")


def test_projector_labels_stay_one_per_line():
    from word_predictor.monitoring.projector import label

    assert [label(t) for t in ("cat", "\n", "\t", " ", "é")] == ["cat", "\\n", "\\t", "\u2423", "é"]


@pytest.mark.slow
def test_one_hot_run_has_no_projector(monitored_logdir):
    assert not (monitored_logdir / "bi" / "projector").exists()
    assert (monitored_logdir / "gru" / "projector" / "projector_config.pbtxt").is_file()


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


def test_gradients_on_this_backend_are_the_slope_of_the_loss():
    """A small step against the gradient lowers the loss by step x |gradient|^2."""
    model = tiny_model(cell="gru")
    rng = np.random.default_rng(1)
    inputs = rng.integers(0, 15, (8, 4)).astype("int32")
    targets = rng.integers(0, 15, (8, 4)).astype("int32")

    def loss() -> float:
        return float(keras.ops.convert_to_numpy(model.loss(targets, model(inputs, training=False))))

    gradients = GRADIENTS[keras.backend.backend()](model, inputs, targets, None)
    assert [g.shape for g in gradients] == [tuple(v.shape) for v in model.trainable_variables]
    before, step = loss(), 1e-2
    for variable, gradient in zip(model.trainable_variables, gradients):
        variable.assign(keras.ops.convert_to_numpy(variable.value) - step * gradient)
    expected = step * sum(float(np.sum(np.square(g, dtype=np.float64))) for g in gradients)
    assert before - loss() == pytest.approx(expected, rel=0.05)


def test_gradient_norms_say_so_where_a_backend_has_none(tmp_path):
    model = tiny_model()
    batch = (np.zeros((2, 4), "int32"), np.zeros((2, 4), "int32"))
    writers = RunWriters(tmp_path)
    norms = GradientNorms(writers, batch, backend="numpy")
    norms.set_model(model)
    for epoch in range(2):
        norms.on_epoch_end(epoch)
    writers.close()
    [(step, text)] = values(tmp_path / "train", "gradient_norms")
    assert step == 0 and "not available on the numpy backend" in text
    assert not plugin_tags(tmp_path / "train", "scalars")


# --- the runs TensorBoard lists, and resuming ----------------------------------------------


@pytest.mark.slow
def test_runs_tensorboard_lists(trained_run):
    from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer

    multiplexer = EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(trained_run.parent))
    multiplexer.Reload()
    names = {f"tiny/{part}" for part in ("train", "validation", "test", "samples", "projector")} | {"tiny"}
    assert set(multiplexer.Runs()) == names


def test_truncate_events_before_a_resume(tmp_path):
    """Epoch figures after the last completed epoch go, and so do batch_loss points after
    the checkpoint's step, the final scoring, and a record cut short by the kill."""
    with EventWriter(tmp_path / "train") as writer:
        for step in range(3):
            writer.scalar("epoch_loss", float(step), step=step)
        for step in range(1, 31):
            writer.scalar("batch_loss", float(step), step=step)
    with EventWriter(tmp_path / "validation") as writer:
        for step in range(3):
            writer.scalar("epoch_loss", float(step), step=step)
    with EventWriter(tmp_path / "samples") as writer:
        writer.text(monitoring.SAMPLES_TAG, "a table", step=2)
    monitoring.write_test_metrics(
        tmp_path, {"loss": 1.0, "perplexity": 2.7, "top1": 0.5, "top5": 0.9}, step=2
    )
    with EventWriter(tmp_path) as writer:
        writer.text("model_summary", "a model", step=0)
    [torn] = (tmp_path / "validation").glob("events.*")
    torn.write_bytes(torn.read_bytes()[:-9])  # the kill lands in the last record
    assert not read_records(torn)[1]

    monitoring.truncate_events(tmp_path, epochs_completed=2, global_step=20)

    def steps(folder, tag):
        return [step for step, _ in values(tmp_path / folder, tag)]

    assert steps("train", "epoch_loss") == [0, 1] == steps("validation", "epoch_loss")
    assert steps("train", "batch_loss") == list(range(1, 21))
    assert steps("samples", monitoring.SAMPLES_TAG) == []
    assert steps("test", "epoch_loss") == []
    assert steps(".", "model_summary") == [0]
    for path in tmp_path.rglob("events.*"):
        records, whole = read_records(path)
        assert whole and records  # each file keeps its version header
    assert not list(tmp_path.rglob(".*.partial"))
