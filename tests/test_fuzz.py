"""Random bytes as corpus files, random strings as prediction text: no crash, no traceback.

The corpus reader is fuzzed directly (hundreds of cases, fast); the train, predict
and evaluate commands in process for a few, since each one starts a model.
"""

from __future__ import annotations

import codecs
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import TINY_TEXT
from word_predictor import evaluate, predict, train
from word_predictor.corpus.files import ENCODING_ERRORS, CorpusError, read_tokens
from word_predictor.text.tokenizer import ASCII_WORDS
from word_predictor.corpus.build import build_corpus
from word_predictor.corpus.splits import window_block_size
from word_predictor.predictor.predictor import EmptyTextError, Predictor
from word_predictor.rundir import load_run
from word_predictor.text.tokenizer import words

# Bytes that are often almost text: words, UTF-8 of every kind, stray invalid bytes.
_PIECES = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=40).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [b"the cat ", b"sat on ", b"\xff", b"\xe2\x82", b"\xc3", b"\n", b"\t", b" ", b"caf\xc3\xa9 "]
    ),
)
_FILE_BYTES = st.lists(_PIECES, max_size=12).map(b"".join)


def _word_break(error: UnicodeDecodeError) -> tuple[str, int]:
    return " ", error.end


# What --encoding-errors promises (train --help), written here from that promise alone:
# strict stops at the first invalid byte, replace turns invalid bytes into a word break, skip
# drops them (the word around them closes up).
codecs.register_error("tests_word_break", _word_break)
_PROMISED = {"strict": "strict", "replace": "tests_word_break", "skip": "ignore"}


def expected_words(data: bytes, encoding_errors: str) -> list[str]:
    """What decoding the whole file at once as promised gives: the reference for the block-wise reader."""
    return words(codecs.decode(data, "utf-8", _PROMISED[encoding_errors]))


def test_the_promise_covers_every_choice_and_tells_replace_from_skip():
    assert set(_PROMISED) == set(ENCODING_ERRORS)
    assert expected_words(b"caf\xffe", "replace") == ["caf", "e"] and expected_words(b"caf\xffe", "skip") == ["cafe"]


@settings(max_examples=300, deadline=None)
@given(_FILE_BYTES, st.sampled_from(ENCODING_ERRORS), st.sampled_from([1, 2, 3, 5, 64]))
def test_block_wise_reading_equals_reading_the_whole_file(data, encoding_errors, block):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "x.txt")
        path.write_bytes(data)
        if b"\0" in data:  # refused as binary, or for a bad byte before the NUL's block
            with pytest.raises(CorpusError, match="looks binary|not valid UTF-8"):
                list(read_tokens(path, ASCII_WORDS, encoding_errors, read_size=block))
            return
        try:
            expected = expected_words(data, encoding_errors)
        except UnicodeDecodeError as error:
            with pytest.raises(CorpusError, match=f"not valid UTF-8 at byte {error.start};"):
                list(read_tokens(path, ASCII_WORDS, encoding_errors, read_size=block))
            return
        assert [word for chunk in read_tokens(path, ASCII_WORDS, encoding_errors, read_size=block) for word in chunk] == expected


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_FILE_BYTES, min_size=1, max_size=4),
    st.sampled_from(ENCODING_ERRORS),
    st.integers(0, 2),
    st.integers(1, 4),
)
def test_random_bytes_as_corpus_build_or_fail_cleanly(files, encoding_errors, threshold, window_size):
    with tempfile.TemporaryDirectory() as folder:
        for number, data in enumerate(files):
            Path(folder, f"{number}.txt").write_bytes(data)
        try:
            built = build_corpus([folder], tokenizer=ASCII_WORDS, block_size=window_block_size(window_size),
                                 min_tokens=window_size + 1, unknown_threshold=threshold, validation_fraction=0.1,
                                 test_fraction=0.2, encoding_errors=encoding_errors)  # fmt: skip
        except CorpusError as error:
            assert "\n" not in str(error) and str(error)
            return
        # It built: every id names a word of the vocabulary, and the splits hold every word.
        assert len(built.vocabulary) >= 2
        for split in built.splits.values():
            assert split.ids.size == 0 or 0 <= split.ids.min() <= split.ids.max() < len(built.vocabulary)
            assert int(split.segment_lengths.sum()) == split.token_count
        total = sum(len(expected_words(data, encoding_errors)) for data in files)
        assert built.token_count == total


def _random_bytes(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("content", "flags", "expected_exit"),
    [
        # Invalid UTF-8 (or a NUL): refused, and the file named.
        (_random_bytes(1, 5000), ["--encoding-errors", "strict"], 1),
        # Read as garbage "words", of which none is frequent enough to keep.
        (_random_bytes(2, 5000), ["--encoding-errors", "replace", "--unknown-threshold", "1000"], 1),
        # Noise skipped around real text: it trains.
        (
            TINY_TEXT.encode() * 20 + _random_bytes(3, 3000).replace(b"\0", b""),
            ["--encoding-errors", "skip"],
            0,
        ),
    ],
    ids=["strict", "replace", "skip-trains"],
)
def test_train_on_random_bytes_succeeds_or_says_why_in_one_line(
    tmp_path, capsys, content, flags, expected_exit
):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "noise.txt").write_bytes(content.replace(b"\0", b" ") if "replace" in flags else content)
    argv = ["--corpus", str(folder), "--logdir", str(tmp_path / "logs"), "--units", "8", "--embedding-dim", "4",
            "--epochs", "1", "--batch-size", "32", "--unknown-threshold", "1", *flags]  # fmt: skip
    assert train.main(argv) == expected_exit
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if expected_exit:
        assert len(err.strip().splitlines()) == 1 and err.startswith("word_predictor.train: error: ")


@pytest.fixture(scope="module")
def predictor(trained_run) -> Predictor:
    return Predictor.from_run(load_run(trained_run))


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200), st.integers(1, 50), st.booleans())
def test_any_text_gets_suggestions_or_a_usage_error(predictor, text, top_k, include_unknown):
    tokens = predictor.vocabulary.tokenizer.tokens(text)  # the run's own rule (unicode words)
    try:
        suggestions = predictor.suggest(text, top_k, include_unknown)
    except EmptyTextError as error:
        assert not tokens and "\n" not in str(error)
        return
    assert suggestions.context == tokens[-predictor.config.window_size :]
    assert 1 <= len(suggestions.predictions) <= top_k
    assert all(word in predictor.vocabulary for word, _ in suggestions.predictions)
    if not include_unknown:
        assert "<unk>" not in [word for word, _ in suggestions.predictions]


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=60), min_size=1, max_size=3), st.booleans())
def test_predict_command_on_random_strings(trained_run, capsys, texts, as_json):
    capsys.readouterr()
    argv = ["--run", str(trained_run), *(["--json"] if as_json else []), "--", *texts]
    code = predict.main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    if code == 0:
        assert captured.err == "" and captured.out
    else:
        assert code == 2 and not words(" ".join(texts))
        assert len(captured.err.strip().splitlines()) == 1 and captured.out == ""


@pytest.mark.slow
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_FILE_BYTES)
def test_evaluate_on_random_bytes(trained_run, capsys, data):
    capsys.readouterr()
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "x.txt").write_bytes(data)
        code = evaluate.main(["--run", str(trained_run), "--encoding-errors", "replace", "--text", folder])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert code in (0, 1)
    if code == 1:  # one error line, after at most a warning that the file held no words
        lines = captured.err.strip().splitlines()
        assert len(lines) in (1, 2) and lines[-1].startswith("word_predictor.evaluate: error: ")
        assert all(line.startswith("warning: ") for line in lines[:-1])
