import json

import pytest

from tests.conftest import TINY_TEXT, train_tiny
from word_predictor import predict, rundir, train
from word_predictor.config import load_config
from word_predictor.text import Vocabulary, sha256_of

pytestmark = pytest.mark.backend


def test_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_:
        train.main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--corpus", "--cell", "--bidirectional", "--layers", "--units", "--embedding-dim", "--one-hot",
                 "--dropout", "--window-size", "--unknown-threshold", "--epochs", "--batch-size",
                 "--learning-rate", "--clip-norm", "--seed", "--logdir", "--run-name", "--resume"):  # fmt: skip
        assert flag in text


def test_unknown_cell_fails_before_reading_data(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        train.main(["--cell", "transformer", "--corpus", str(tmp_path / "missing")])
    assert exit_.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.slow
def test_trained_run_folder_describes_itself(trained_run):
    for name in ("model.keras", "vocabulary.json", "config.json", "metrics.json", "status.json", "test_split.npz"):
        assert (trained_run / name).is_file(), name
    config, provenance = load_config(trained_run / "config.json")
    assert provenance["command_line"].startswith("python -m word_predictor.train --corpus")
    assert provenance["vocabulary_sha256"] == sha256_of(trained_run / "vocabulary.json")
    assert config.vocabulary_size == len(Vocabulary.load(trained_run / "vocabulary.json"))
    assert config.units == 8 and config.cell == "lstm" and config.targets == "all"
    assert config.train_tokens + config.validation_tokens + config.test_tokens == config.corpus_tokens
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 2
    assert 1 < metrics["test"]["perplexity"] < config.vocabulary_size
    assert rundir.is_complete(trained_run)
    assert list(trained_run.glob("train/events.out.tfevents.*")) and list(trained_run.glob("validation/events.*"))


@pytest.mark.slow
def test_training_learns_the_tiny_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(TINY_TEXT * 30, encoding="utf-8")
    assert train_tiny(corpus, tmp_path / "logs", "--run-name", "r", "--epochs", "6", "--units", "32",
                      "--embedding-dim", "16", "--dropout", "0") == 0  # fmt: skip
    metrics = json.loads((tmp_path / "logs" / "r" / "metrics.json").read_text())
    # the text repeats itself, so a model that learnt anything is far better than chance
    assert metrics["test"]["perplexity"] < 4
    assert metrics["test"]["top5"] > 0.9


@pytest.mark.slow
def test_bidirectional_one_hot_gru_trains(tmp_path, tiny_corpus):
    assert train_tiny(tiny_corpus, tmp_path / "logs", "--run-name", "bi", "--cell", "gru",
                      "--bidirectional", "--one-hot", "--layers", "2", "--epochs", "1") == 0  # fmt: skip
    config, _ = load_config(tmp_path / "logs" / "bi" / "config.json")
    assert config.targets == "last" and config.one_hot and config.bidirectional


def run_folders(logdir):
    return [p for p in logdir.iterdir() if not p.name.startswith(".")] if logdir.exists() else []


def test_no_corpus_files_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert train_tiny(tmp_path / "empty", tmp_path / "logs") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no .txt files found" in err[0]
    assert not run_folders(tmp_path / "logs")


@pytest.mark.parametrize(
    "content, message",
    [(b"", "0 word(s)"), (b"!!! 123 ...", "0 word(s)"), (b"just three words", "3 word(s)"),
     (b"caf\xe9 au lait", "not valid UTF-8 at byte 3")],  # fmt: skip
)
def test_bad_corpus_is_one_line_and_no_run(tmp_path, capsys, content, message):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_bytes(content)
    assert train_tiny(folder, tmp_path / "logs") == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not run_folders(tmp_path / "logs")


@pytest.mark.slow
@pytest.mark.parametrize("context", ["window", "full"])
def test_mixed_precision_trains_and_predicts(tmp_path, tiny_corpus, context, capsys):
    flags = ["--context", context, "--precision", "mixed_bfloat16", "--epochs", "1"]
    if context == "full":
        flags += ["--bptt", "5", "--batch-size", "4"]
    assert train_tiny(tiny_corpus, tmp_path / "logs", "--run-name", "mixed", *flags) == 0
    config, _ = load_config(tmp_path / "logs" / "mixed" / "config.json")
    assert config.precision == "mixed_bfloat16"
    model = rundir.load_model(tmp_path / "logs" / "mixed" / "model.keras")
    assert model.get_layer("embedding").dtype_policy.name == "mixed_bfloat16"
    assert model.outputs[0].dtype == "float32"  # logits stay float32 for the loss and for sampling
    capsys.readouterr()
    assert predict.main(["--run", str(tmp_path / "logs" / "mixed"), "--json", "the cat sat"]) == 0
    assert len(json.loads(capsys.readouterr().out)["predictions"]) == 5
