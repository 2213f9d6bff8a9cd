"""config.py: one Config whose left-out settings mean what the train command means by
them, and SettingError, which names settings so that each command can name its flags."""

from __future__ import annotations

import dataclasses
import re

import pytest

from word_predictor import train
from word_predictor.config import (
    CONFIG_FORMAT,
    LEVELS,
    Config,
    SettingError,
    config_json,
    load_config,
    validate,
)


def command_config(*flags: str) -> Config:
    config = train.config_from_args(train.build_parser().parse_args(["--corpus", "corpus", *flags]))
    return dataclasses.replace(config, corpus=["corpus"])


@pytest.mark.parametrize("level", LEVELS)
def test_a_config_built_in_python_is_what_the_command_builds(level):
    assert Config(level=level) == command_config("--level", level)


@pytest.mark.parametrize(
    ("settings", "flags"),
    [
        ({"level": "char", "context": "window"}, ("--level", "char", "--context", "window")),
        ({"context": "full"}, ("--context", "full")),
        ({"bidirectional": True}, ("--bidirectional",)),
        ({"test_text": ["held-out"]}, ("--test-text", "held-out")),
        ({"level": "char", "layers": 3, "dropout": 0.0}, ("--level", "char", "--layers", "3", "--dropout", "0")),
    ],
)
def test_settings_left_out_mean_the_same_in_python_and_on_the_command_line(settings, flags, tmp_path):
    built = command_config(*flags)
    if settings.get("test_text"):
        built = dataclasses.replace(built, test_text=["held-out"])
    assert Config(**settings) == built


def test_the_level_and_context_defaults_differ_where_they_should():
    char, full = Config(level="char"), Config(context="full")
    assert (char.context, char.bptt, char.layers, char.embedding_dim, char.dropout) == ("full", 100, 2, 64, 0.2)
    assert char.batch_size == full.batch_size == 32 and Config().batch_size == 128
    assert Config(bidirectional=True).targets == "last" and Config().targets == "all"
    assert Config(validation_text=["v"]).validation_fraction == 0.0 and Config().validation_fraction == 0.1
    assert Config(level="char", bptt=7).bptt == 7  # a value given is kept


def test_a_setting_error_names_settings_and_a_command_names_its_flags():
    with pytest.raises(SettingError) as caught:
        validate(Config(tie_weights=True, embedding_dim=4, units=8))
    assert str(caught.value) == (
        "tie_weights needs the embedding size (4) to equal the last layer's units (8); set embedding_dim 8"
    )
    assert caught.value.phrased(train.FLAGS) == (
        "--tie-weights needs the embedding size (4) to equal the last layer's units (8); set --embedding-dim 8"
    )


def test_a_value_holding_braces_is_shown_as_given():
    with pytest.raises(SettingError, match=re.escape("unknown cell '{units}'")):
        validate(Config(cell="{units}"))


@pytest.mark.parametrize(
    "settings",
    [{"cell": "x"}, {"context": "x"}, {"level": "x"}, {"targets": "x"}, {"bidirectional": True, "context": "full"},
     {"bidirectional": True, "targets": "all"}, {"units": 0}, {"bptt": 0}, {"batch_size": 0}, {"dropout": 1.0},
     {"tie_weights": True, "one_hot": True}, {"tie_weights": True, "bidirectional": True, "targets": "last"}],
)  # fmt: skip
def test_every_setting_a_refusal_names_is_a_flag_of_train(settings):
    options = {option for action in train.build_parser()._actions for option in action.option_strings}
    with pytest.raises(SettingError) as caught:
        validate(Config(**settings))
    named = set(re.findall(r"\{(\w+)", caught.value.template)) - set(caught.value.values)
    assert named, "the message names the setting to change"
    assert {train.FLAGS[name] for name in named} <= options
    assert "--" not in str(caught.value)  # the library's own words name no flag


def test_a_format_1_config_reads_as_the_settings_it_used(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"format": "word_predictor.config/1", "settings": {"chunk_size": 4, "cell": "gru"}}')
    config, _ = load_config(path)
    assert (config.window_size, config.cell, config.normalisation, config.level, config.context) == (
        4, "gru", "ascii", "word", "window")  # fmt: skip
    path.write_text(config_json(Config(level="char")))
    again, provenance = load_config(path)
    assert again == Config(level="char") and provenance["format"] == CONFIG_FORMAT
