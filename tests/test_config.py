"""Config: what leaving a setting out means at each level (one Config, as the train command
builds it), the settings refused before any data is read (SettingError names settings, so each
command can name its flags), and config.json written and read back (today's format and format 1)."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from word_predictor import train
from word_predictor.config import (
    CELLS,
    CONFIG_FORMAT,
    LEVELS,
    Config,
    CorpusFacts,
    SettingError,
    config_json,
    facts_from,
    load_config,
    validate,
)

# The settings a level changes when its flag is left out, with what they are at each level.
LEVEL_SETTINGS = ("context", "bptt", "embedding_dim", "layers", "dropout")


def built_by_train(*flags: str) -> Config:
    """The Config the train command builds from these flags (nothing is read or trained)."""
    return train.config_from_args(train.build_parser().parse_args(list(flags)))


def test_a_word_run_left_to_its_defaults_has_configs_own_defaults():
    built, plain = built_by_train(), Config()
    for name in LEVEL_SETTINGS:
        assert getattr(built, name) == getattr(plain, name), name


def test_a_char_run_left_to_its_defaults_reads_the_full_context_with_its_own_sizes():
    built = built_by_train("--level", "char")
    # docs/benchmarks.md, "Character level": the best measured character settings on 2 CPU cores
    assert {name: getattr(built, name) for name in LEVEL_SETTINGS} == {
        "context": "full", "bptt": 100, "embedding_dim": 64, "layers": 2, "dropout": 0.2
    }  # fmt: skip
    assert built.batch_size == 32  # lanes: fewer, longer batches than windows


def test_a_flag_given_wins_over_the_levels_default():
    built = built_by_train("--level", "char", "--context", "window", "--layers", "1", "--dropout", "0.5",
                           "--embedding-dim", "16", "--bptt", "7")  # fmt: skip
    assert (built.context, built.layers, built.dropout, built.embedding_dim, built.bptt) == ("window", 1, 0.5, 16, 7)
    assert built.batch_size == Config().batch_size  # the window context's batch size


VALID = Config(units=8, embedding_dim=8)

# Each differs from VALID in one way that cannot train.
REFUSED = {
    "unknown cell": dict(cell="transformer"),
    "unknown context": dict(context="sideways"),
    "bidirectional full context": dict(bidirectional=True, context="full", targets="last"),
    "bidirectional every position": dict(bidirectional=True, targets="all"),
    "no layers": dict(layers=0),
    "no units": dict(units=0),
    "no window": dict(window_size=0),
    "no bptt": dict(bptt=0),
    "no embedding": dict(embedding_dim=0),
    "dropout of one": dict(dropout=1.0),
    "negative dropout": dict(dropout=-0.1),
    "tied one-hot": dict(tie_weights=True, one_hot=True),
    "tied bidirectional": dict(tie_weights=True, bidirectional=True, targets="last"),
    "unknown optimizer": dict(optimizer="rmsprop"),
    "weight drop of one": dict(weight_drop=1.0),
    "negative weight drop": dict(weight_drop=-0.1),
    "embedding dropout of one": dict(embedding_dropout=1.0),
    "negative embedding dropout": dict(embedding_dropout=-0.5),
    "negative AR": dict(activation_regularisation=-1.0),
    "infinite AR": dict(activation_regularisation=float("inf")),
    "NaN TAR": dict(temporal_activation_regularisation=float("nan")),
    "negative TAR": dict(temporal_activation_regularisation=-1.0),
    "negative lr patience": dict(lr_patience=-1),
    "locked dropout of nothing": dict(locked_dropout=True, dropout=0.0),
    "embedding dropout one-hot": dict(embedding_dropout=0.1, one_hot=True),
    "TAR of the last position only": dict(temporal_activation_regularisation=1.0, bidirectional=True, targets="last"),
}


def test_the_valid_settings_pass():
    validate(VALID)
    validate(dataclasses.replace(VALID, tie_weights=True))
    validate(dataclasses.replace(VALID, tie_weights=True, embedding_dim=4))  # through a projection
    validate(dataclasses.replace(VALID, locked_dropout=True, weight_drop=0.5, embedding_dropout=0.1,
                                 activation_regularisation=2.0, temporal_activation_regularisation=1.0,
                                 optimizer="sgd", weight_averaging=True, lr_patience=2))  # fmt: skip
    validate(dataclasses.replace(VALID, bidirectional=True, targets="last"))


@pytest.mark.parametrize("changes", REFUSED.values(), ids=REFUSED.keys())
def test_settings_that_cannot_train_are_refused_in_one_line(changes):
    with pytest.raises(ValueError) as refused:
        validate(dataclasses.replace(VALID, **changes))
    message = str(refused.value)
    assert message and "\n" not in message


def test_an_unknown_cell_lists_the_valid_ones():
    with pytest.raises(ValueError, match="'transformer'") as refused:
        validate(dataclasses.replace(VALID, cell="transformer"))
    assert all(cell in str(refused.value) for cell in CELLS)


def test_config_json_reads_back_the_same_config_facts_and_provenance(tmp_path):
    config = Config(corpus=["/texts/a", "/texts/b"], level="char", context="full", bptt=9, cell="gru", layers=2,
                    units=12, embedding_dim=6, dropout=0.25, sample_prompts=["a b"],
                    validation_text=["/held/valid.txt"])  # fmt: skip
    facts = CorpusFacts(vocabulary_size=41, corpus_tokens=1300, train_tokens=1000, validation_tokens=100,
                        test_tokens=200)  # fmt: skip
    path = tmp_path / "config.json"
    path.write_text(config_json(config, facts, command_line="train --level char", vocabulary_sha256="ab" * 32))
    loaded, provenance = load_config(path)
    assert loaded == config and facts_from(provenance) == facts
    assert provenance["format"] == CONFIG_FORMAT == "word_predictor.config/3"
    assert "vocabulary_size" not in provenance["settings"]  # the facts are recorded apart from the settings
    assert provenance["command_line"] == "train --level char" and provenance["vocabulary_sha256"] == "ab" * 32


def test_a_format_1_config_reads_with_the_settings_it_never_recorded(tmp_path):
    # Format 1 named the window `chunk_size` and knew one level, one normalisation, one context.
    path = tmp_path / "config.json"
    settings = {"cell": "gru", "chunk_size": 7, "units": 16, "vocabulary_size": 30}
    path.write_text(json.dumps({"format": "word_predictor.config/1", "settings": settings, "command_line": "x"}))
    loaded, provenance = load_config(path)
    assert loaded == Config(cell="gru", window_size=7, units=16, normalisation="ascii",
                            level="word", context="window", max_vocabulary=0)  # fmt: skip
    assert facts_from(provenance) == CorpusFacts(vocabulary_size=30)  # kept among the settings then
    assert provenance["command_line"] == "x"


def test_a_format_2_config_reads_its_facts_from_among_its_settings(tmp_path):
    # Format 2 wrote the corpus' facts as settings, and every setting (none taken from format 1's values).
    path = tmp_path / "config.json"
    settings = {**Config(context="full", normalisation="unicode").to_dict(), "vocabulary_size": 52,
                "corpus_tokens": 900, "train_tokens": 700, "validation_tokens": 80, "test_tokens": 120}
    path.write_text(json.dumps({"format": "word_predictor.config/2", "settings": settings}))
    loaded, provenance = load_config(path)
    assert loaded == Config(context="full", normalisation="unicode")
    assert facts_from(provenance) == CorpusFacts(52, 900, 700, 80, 120)


def test_the_settings_are_frozen_and_changed_by_replacing():
    config = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.units = 3
    assert dataclasses.replace(config, units=3).units == 3 and config.units == 256


def test_facts_of_no_known_shape_read_as_unknown():
    assert facts_from({"format": CONFIG_FORMAT, "settings": {}}) == CorpusFacts()
    assert facts_from({"format": CONFIG_FORMAT, "facts": {"vocabulary_size": "many"}}) == CorpusFacts()
    assert facts_from([]) == CorpusFacts()


def test_settings_this_version_does_not_know_are_left_out(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"format": CONFIG_FORMAT, "settings": {"units": 9, "from_the_future": True}}))
    assert load_config(path)[0] == Config(units=9)


@pytest.mark.parametrize(
    "text, message",
    [
        (json.dumps({"format": "word_predictor.config/99", "settings": {}}), "format 'word_predictor.config/99'"),
        (json.dumps({"settings": {}}), "format None"),
        (json.dumps([1, 2]), "format 'list'"),
        (json.dumps({"format": CONFIG_FORMAT}), "lacks settings"),
        (json.dumps({"format": CONFIG_FORMAT, "settings": [1]}), "settings: Input should be a valid dictionary"),
        (json.dumps({"format": CONFIG_FORMAT, "settings": {"window_size": "five"}}),
         "settings.window_size: Input should be a valid integer"),
        (json.dumps({"format": CONFIG_FORMAT, "settings": {"window_size": 0}}), "window_size.* at least 1"),
        (json.dumps({"format": CONFIG_FORMAT, "settings": {"level": "chars"}}), "unknown level 'chars'"),
        (json.dumps({"format": CONFIG_FORMAT, "settings": {"units": 9}, "settings_sha256": "0" * 64}),
         "settings were edited after the run was written"),
    ],
)
def test_a_config_this_version_cannot_read_is_a_value_error_that_says_why(tmp_path, text, message):
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_config(path)


# ---------------------------------------------------------------- Config's own defaults and refusals (from the core branch)


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
        validate(Config(locked_dropout=True, dropout=0.0))
    assert str(caught.value) == "locked_dropout locks the masks of dropout, which is 0; set dropout above 0"
    assert caught.value.phrased(train.FLAGS) == (
        "--locked-dropout locks the masks of --dropout, which is 0; set --dropout above 0"
    )


def test_a_value_holding_braces_is_shown_as_given():
    with pytest.raises(SettingError, match=re.escape("unknown cell '{units}'")):
        validate(Config(cell="{units}"))


@pytest.mark.parametrize(
    "settings",
    [{"cell": "x"}, {"context": "x"}, {"level": "x"}, {"targets": "x"}, {"bidirectional": True, "context": "full"},
     {"bidirectional": True, "targets": "all"}, {"units": 0}, {"bptt": 0}, {"batch_size": 0}, {"dropout": 1.0},
     {"tie_weights": True, "one_hot": True}, {"tie_weights": True, "bidirectional": True, "targets": "last"},
     {"optimizer": "x"}, {"weight_drop": 1.0}, {"embedding_dropout": -1.0}, {"activation_regularisation": -1.0},
     {"temporal_activation_regularisation": -1.0}, {"lr_patience": -1}, {"locked_dropout": True, "dropout": 0.0},
     {"embedding_dropout": 0.1, "one_hot": True}, {"temporal_activation_regularisation": 1.0, "targets": "last"}],
)  # fmt: skip
def test_every_setting_a_refusal_names_is_a_flag_of_train(settings):
    options = {option for action in train.build_parser()._actions for option in action.option_strings}
    with pytest.raises(SettingError) as caught:
        validate(Config(**settings))
    named = set(re.findall(r"\{(\w+)", caught.value.template)) - set(caught.value.values)
    assert named, "the message names the setting to change"
    assert {train.FLAGS[name] for name in named} <= options
    assert "--" not in str(caught.value)  # the library's own words name no flag


REGULARISATION_FLAGS = ("--locked-dropout", "--weight-drop", "0.5", "--embedding-dropout", "0.1",
                        "--activation-regularisation", "2", "--temporal-activation-regularisation", "1",
                        "--optimizer", "sgd", "--weight-averaging", "--lr-patience", "2")  # fmt: skip


def test_the_regularisation_flags_set_their_settings_and_config_json_records_them(tmp_path):
    plain = built_by_train()
    assert (plain.locked_dropout, plain.weight_drop, plain.embedding_dropout, plain.activation_regularisation,
            plain.temporal_activation_regularisation, plain.optimizer, plain.weight_averaging,
            plain.lr_patience) == (False, 0.0, 0.0, 0.0, 0.0, "adam", False, 0)  # off: today's model  # fmt: skip
    built = built_by_train(*REGULARISATION_FLAGS)
    assert (built.locked_dropout, built.weight_drop, built.embedding_dropout, built.activation_regularisation,
            built.temporal_activation_regularisation, built.optimizer, built.weight_averaging,
            built.lr_patience) == (True, 0.5, 0.1, 2.0, 1.0, "sgd", True, 2)  # fmt: skip
    path = tmp_path / "config.json"
    path.write_text(config_json(built, CorpusFacts()))
    assert load_config(path)[0] == built


@pytest.mark.parametrize("flags", [("--weight-drop", "1"), ("--embedding-dropout", "-0.1"),
                                   ("--activation-regularisation", "-1"), ("--optimizer", "rmsprop"),
                                   ("--lr-patience", "-1")])  # fmt: skip
def test_a_regularisation_flag_out_of_range_is_refused_by_the_parser(flags, capsys):
    with pytest.raises(SystemExit) as stopped:
        train.build_parser().parse_args(list(flags))
    assert stopped.value.code != 0
    assert flags[0] in capsys.readouterr().err
