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
