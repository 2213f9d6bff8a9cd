import argparse

import pytest

from word_predictor import cli


@pytest.mark.parametrize(
    "parse, good, bad",
    [
        (cli.positive_int, {"1": 1, "30": 30, " 7 ": 7}, ["0", "-3", "1.5", "x", "", "inf", "nan"]),
        (cli.non_negative_int, {"0": 0, "5": 5}, ["-1", "0.5", "many"]),
        (cli.positive_float, {"0.5": 0.5, "3": 3.0, "1e-3": 0.001}, ["0", "-1", "nan", "inf", "-inf", "x"]),
        (cli.non_negative_float, {"0": 0.0, "0.7": 0.7, "2": 2.0}, ["-0.1", "nan", "NaN", "inf", "1e999"]),
        (cli.probability, {"1": 1.0, "0.9": 0.9, "1e-9": 1e-9}, ["0", "1.01", "-0.5", "nan", "inf"]),
    ],
)
def test_checked_number_types(parse, good, bad):
    for text, value in good.items():
        assert parse(text) == value and type(parse(text)) is type(value)
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError, match="must be"):
            parse(text)


def test_a_bad_value_is_one_line_naming_the_flag_and_exit_2(capsys):
    parser = cli.Parser(prog="prog")
    parser.add_argument("--top-p", type=cli.probability, default=1.0)
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["--top-p", "nan"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("prog: error: argument --top-p: must be more than 0 and at most 1, got 'nan'")


def test_printable_cuts_long_text_and_replaces_what_stdout_cannot_encode():
    assert cli.printable("abcdef", 3) == "…def"
    assert cli.printable("the caf\udce9 sat") == "the caf? sat"


COMMANDS = ("train", "predict", "generate", "evaluate", "runs")
# Defaults the help states in words, since the value depends on the machine or the data.
_DEFAULT_IN_WORDS = {"--backend": "KERAS_BACKEND"}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_flag_has_help_that_states_its_real_default(command):
    import importlib

    parser = importlib.import_module(f"word_predictor.{command}").build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue  # a flag left out of --help on purpose (an old name)
        name = action.option_strings[0] if action.option_strings else action.dest
        shown = (action.help or "") % {**vars(action), "prog": parser.prog}
        assert len(shown) > 15, f"{command} {name} has no help"
        meaningful = action.default not in (None, False, []) and not isinstance(action, argparse._StoreTrueAction)
        if name in _DEFAULT_IN_WORDS:
            assert f"(default: the {_DEFAULT_IN_WORDS[name]}" in shown, f"{command} {name}: {shown}"
        elif meaningful:
            assert f"(default: {action.default})" in shown or f"(default: {action.default}," in shown, (
                f"{command} {name} does not say its default {action.default!r}: {shown}"
            )
        assert "(default: None)" not in shown and "(default: False)" not in shown and "(default: [])" not in shown
        assert shown.count("(default:") <= 1, f"{command} {name} states its default twice: {shown}"
    # What --help prints (a formatter could add defaults of its own).
    printed = " ".join(parser.format_help().split())
    for wrong in ("(default: None)", "(default: False)", "(default: [])"):
        assert wrong not in printed, f"{command} --help shows {wrong}"


def test_an_old_flag_name_still_reads_with_a_note_and_stays_out_of_help(capsys):
    parser = cli.Parser(prog="command")
    parser.add_argument("--window-size", type=cli.positive_int, default=5, help="words per window")
    parser.add_argument("--chunk-size", dest="window_size", type=cli.positive_int, action=cli.OldName,
                        new_name="--window-size")
    assert parser.parse_args([]).window_size == 5 and capsys.readouterr().err == ""
    assert parser.parse_args(["--chunk-size", "7"]).window_size == 7
    assert capsys.readouterr().err == "warning: --chunk-size is an old name of --window-size; use --window-size\n"
    assert "--chunk-size" not in parser.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(["--chunk-size", "0"])  # checked as the new name is
# A flag argparse refuses, and a value only the command's body can refuse (nothing there).
_BODY_ERRORS = {
    "train": ["--corpus", "{missing}"],
    "predict": ["--run", "{missing}", "the"],
    "generate": ["--run", "{missing}"],
    "evaluate": ["--run", "{missing}"],
    "runs": ["--logdir", "{missing}"],
    "export": ["--run", "{missing}", "--out", "{missing}-exported"],
    "serve": ["--run", "{missing}"],
}


@pytest.mark.parametrize("command", sorted(_BODY_ERRORS))
def test_every_error_of_a_command_starts_with_the_same_name(command, tmp_path, capsys, monkeypatch):
    import importlib

    monkeypatch.chdir(tmp_path)
    main = importlib.import_module(f"word_predictor.{command}").main
    with pytest.raises(SystemExit) as exit_:
        main(["--no-such-flag"])
    argument_error = capsys.readouterr().err
    missing = str(tmp_path / "missing")
    code = main([part.format(missing=missing) for part in _BODY_ERRORS[command]])
    body_error = capsys.readouterr().err
    prefix = f"word_predictor.{command}: error: "
    assert exit_.value.code == 2 and code != 0
    assert argument_error.startswith(prefix), argument_error
    assert body_error.startswith(prefix), body_error
