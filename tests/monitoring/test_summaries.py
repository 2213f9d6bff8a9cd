"""What a run writes once: hparams, model summary and settings, test figures, the kept
model's samples.
"""

from __future__ import annotations

import json

import pytest
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import metadata as hparams_metadata

from tests.helpers import EPOCH_TAGS, events, plugin_tags, saved_config, table_rows, values
from word_predictor import monitoring, rundir
from word_predictor.config import CONTEXTS, Config, CorpusFacts, LEVELS, NORMALISATIONS, PRECISIONS, facts_from
from word_predictor.monitoring.writer import EventWriter


pytestmark = pytest.mark.backend


@pytest.mark.slow
def test_test_split_figures_match_metrics_json(trained_run):
    test = json.loads((trained_run / rundir.METRICS_FILE).read_text())["test"]
    for tag, key in zip(EPOCH_TAGS, ("loss", "perplexity", "top1", "top5")):
        [(step, value)] = values(trained_run / "test", tag)
        assert step == 1 and value == pytest.approx(test[key], rel=1e-6), tag


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
    config = saved_config(monitored_logdir / "gru")
    facts = facts_from(json.loads((monitored_logdir / "gru" / "config.json").read_text()))
    assert gru["cell"] == "gru" and gru["bidirectional"] is False and gru["one_hot"] is False
    assert gru["units"] == 8 and gru["embedding_dim"] == 4 and gru["learning_rate"] == pytest.approx(0.01)
    assert gru["vocabulary_size"] == facts.vocabulary_size > 2 and gru["corpus_tokens"] == facts.corpus_tokens > 0
    assert gru["batch_size"] == 16 and gru["window_size"] == 5 and gru["unknown_threshold"] == 1
    assert gru["context"] == "window" and gru["bptt"] == 0  # windows carry no state: bptt unused
    assert gru["level"] == "word" and gru["normalisation"] == "unicode" and gru["precision"] == "float32"
    assert gru["tie_weights"] is False and gru["max_vocabulary"] == config.max_vocabulary == 50_000
    assert bi["cell"] == "simple_rnn" and bi["bidirectional"] is True and bi["targets"] == "last"
    assert bi["one_hot"] is True and bi["embedding_dim"] == 0  # no embedding, not the unused default


def test_hparams_of_a_full_context_run_show_bptt_not_window_size():
    values_ = monitoring.hparam_values(Config(context="full", bptt=70, window_size=5), CorpusFacts(vocabulary_size=9))
    assert values_["bptt"] == 70 and values_["window_size"] == 0 and values_["vocabulary_size"] == 9


def test_hparams_show_the_regularisation_settings():
    values_ = monitoring.hparam_values(Config(locked_dropout=True, weight_drop=0.5, embedding_dropout=0.1,
                                              activation_regularisation=2.0, temporal_activation_regularisation=1.0,
                                              optimizer="sgd", weight_averaging=True, lr_patience=2),
                                       CorpusFacts(vocabulary_size=9))  # fmt: skip
    assert (values_["locked_dropout"], values_["weight_drop"], values_["embedding_dropout"]) == (True, 0.5, 0.1)
    assert (values_["activation_regularisation"], values_["temporal_activation_regularisation"]) == (2.0, 1.0)
    assert (values_["optimizer"], values_["weight_averaging"], values_["lr_patience"]) == ("sgd", True, 2)
    assert monitoring.hparam_values(Config(), CorpusFacts(vocabulary_size=9))["optimizer"] == "adam"


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

