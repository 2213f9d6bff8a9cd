import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.helpers import TINY_FLAGS, TINY_TEXT, help_beside_each_flag, train_tiny
from word_predictor import evaluate, predict, rundir, train
from word_predictor.training import run_corpus
from word_predictor.config import facts_from, load_config
from word_predictor.text.vocabulary import Vocabulary, sha256_of
from word_predictor.text.tokenizer import tokenizer_for

pytestmark = pytest.mark.backend


def test_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_:
        train.main(["--help"])
    assert exit_.value.code == 0
    shown = help_beside_each_flag(train.build_parser(), capsys.readouterr().out)
    for flag in ("--corpus", "--cell", "--bidirectional", "--layers", "--units", "--embedding-dim", "--one-hot",
                 "--dropout", "--window-size", "--unknown-threshold", "--epochs", "--batch-size",
                 "--learning-rate", "--clip-norm", "--seed", "--logdir", "--run-name", "--resume"):  # fmt: skip
        assert flag in shown
    for flag, (help_text, printed) in shown.items():
        assert help_text and help_text in printed, f"{flag}: its help is not printed beside it"



def test_the_old_chunk_size_flag_sets_the_window_size_out_of_help(capsys):
    parser = train.build_parser()
    assert parser.parse_args(["--chunk-size", "7"]).window_size == 7
    assert "--chunk-size is an old name of --window-size" in capsys.readouterr().err
    assert "--chunk-size" not in parser.format_help()
def test_every_setting_has_one_flag_made_from_the_table():
    # A Config field added without a row in train.SETTINGS fails here, not when a user looks for its flag.
    import dataclasses

    from word_predictor.config import Config

    names = [setting.name for setting in train.SETTINGS]
    assert sorted(names) == sorted(field.name for field in dataclasses.fields(Config)) and len(set(names)) == len(names)
    options = {option for action in train.build_parser()._actions for option in action.option_strings}
    assert {setting.option for setting in train.SETTINGS} <= options
    assert {train.FLAGS[name] for name in names} == {setting.option for setting in train.SETTINGS}
    assert train.FLAGS["sample_prompts"] == "--sample-prompt" and train.FLAGS["window_size"] == "--window-size"


def test_each_flag_sets_its_own_setting(tmp_path):
    parse = lambda *flags: train.config_from_args(train.build_parser().parse_args(list(flags)))  # noqa: E731
    config = parse("--corpus", "a", "--corpus", "b", "--chunk-size", "9", "--sample-prompt", "x y",
                   "--sample-prompt", "z", "--one-hot", "--test-text", "held", "--max-vocabulary", "7",
                   "--normalisation", "ascii", "--time-limit", "1.5", "--cell", "gru")  # fmt: skip
    assert config.corpus == [str(Path("a").absolute()), str(Path("b").absolute())]
    assert config.window_size == 9 and config.sample_prompts == ["x y", "z"] and config.one_hot is True
    assert config.test_text == [str(Path("held").absolute())] and config.test_fraction == 0.0
    assert (config.max_vocabulary, config.normalisation, config.time_limit, config.cell) == (7, "ascii", 1.5, "gru")
    left_out = parse()
    assert left_out.corpus == [str(Path("corpus").absolute())] and left_out.sample_prompts == []
    assert left_out.normalisation == "unicode" and left_out.validation_text == []


def test_resume_names_a_setting_given_beside_it_by_its_flag(tmp_path, capsys):
    assert train.main(["--resume", str(tmp_path), "--sample-prompt", "x", "--units", "3"]) == 2
    assert "drop --units --sample-prompt" in capsys.readouterr().err  # --help's order


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
    facts = facts_from(provenance)
    assert facts.vocabulary_size == len(Vocabulary.load(trained_run / "vocabulary.json"))
    assert config.units == 8 and config.cell == "lstm" and config.targets == "all"
    assert facts.train_tokens + facts.validation_tokens + facts.test_tokens == facts.corpus_tokens
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 2
    assert 1 < metrics["test"]["perplexity"] < facts.vocabulary_size
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
    [(b"", "0 word(s)"), (b"!!! ??? ...", "0 word(s)"), (b"just three words", "3 word(s)"),
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


REPO = Path(__file__).resolve().parents[1]


def test_ctrl_c_during_training_says_how_to_resume(tiny_corpus, tmp_path, capsys):
    from word_predictor.backend import keras

    class CtrlC(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            raise KeyboardInterrupt

    flags = ["--corpus", str(tiny_corpus), "--logdir", str(tmp_path / "logs"), *TINY_FLAGS, "--run-name", "cut"]
    assert train.main(flags, callbacks=[CtrlC()]) == 130
    run = tmp_path / "logs" / "cut"
    # The resume command names the backend when it is not the default, so it runs as given.
    chosen = os.environ.get("KERAS_BACKEND", "tensorflow")
    backend_flag = "" if chosen == "tensorflow" else f" --backend {chosen}"
    assert capsys.readouterr().err == (
        f"word_predictor.train: interrupted; continue from the last completed epoch with "
        f"python -m word_predictor.train --resume {run}{backend_flag}\n"
    )


def test_the_default_corpus_missing_says_what_to_pass(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        train.main(["--help"])  # the parser itself needs no corpus
    capsys.readouterr()
    assert train.main(["--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"word_predictor.train: error: no --corpus given and there is no corpus/ folder in {tmp_path}; pass "
        f"--corpus FOLDER_OR_FILE (the repository's own: --corpus {REPO / 'corpus'})\n"
    )
    assert not (tmp_path / "logs").exists()


def test_the_requirements_install_the_package_with_all_its_modules():
    requirements = (REPO / "requirements.txt").read_text().splitlines()
    assert "-e ." in requirements
    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    found = sorted(".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "word_predictor").rglob("__init__.py"))
    assert sorted(packages) == found


def test_the_commands_run_from_any_folder_once_installed(tmp_path):
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = [sys.executable, "-c", "import word_predictor, sys; print(word_predictor.__file__)"]
    if subprocess.run(probe, cwd=tmp_path, env=environment, capture_output=True).returncode != 0:
        pytest.skip("word_predictor is not installed here; pip install -r requirements.txt installs it (as CI does)")
    shown = subprocess.run([sys.executable, "-m", "word_predictor.train", "--help"], cwd=tmp_path, env=environment,
                           capture_output=True, text=True)  # fmt: skip
    assert shown.returncode == 0 and "--corpus" in shown.stdout


@pytest.mark.slow
@pytest.mark.parametrize("context", ["window", "full"])
def test_given_texts_are_the_validation_and_test_splits(tmp_path, tiny_corpus, context, capsys):
    held = tmp_path / "held"
    held.mkdir()
    (held / "valid.txt").write_text(TINY_TEXT * 2, encoding="utf-8")
    (held / "test.txt").write_text(TINY_TEXT * 3, encoding="utf-8")
    assert train_tiny(tiny_corpus, tmp_path / "logs", "--run-name", "r", "--context", context,
                      "--validation-text", str(held / "valid.txt"), "--test-text", str(held / "test.txt")) == 0  # fmt: skip
    run = tmp_path / "logs" / "r"
    config, data = load_config(run / "config.json")
    facts = facts_from(data)
    words = len(tokenizer_for("word", "unicode").tokens(TINY_TEXT))
    assert config.validation_fraction == config.test_fraction == 0
    assert (facts.train_tokens, facts.validation_tokens, facts.test_tokens) == (20 * words, 2 * words, 3 * words)
    assert config.test_text == [str(held / "test.txt")]
    tested = json.loads((run / "metrics.json").read_text())["test"]
    capsys.readouterr()
    # evaluate scores the run's kept test split, and the file itself, as training did
    assert evaluate.main(["--run", str(run), "--json"]) == 0
    kept = json.loads(capsys.readouterr().out)
    assert evaluate.main(["--run", str(run), "--text", str(held / "test.txt"), "--json"]) == 0
    from_file = json.loads(capsys.readouterr().out)
    assert kept["tokens"] == from_file["tokens"] == tested["tokens"]
    assert kept["perplexity"] == pytest.approx(tested["perplexity"], rel=1e-5)
    assert from_file["perplexity"] == pytest.approx(tested["perplexity"], rel=1e-5)


@pytest.mark.parametrize(
    "flags, message, code",
    [(["--test-text", "HELD", "--test-fraction", "0.2"], "drop --test-fraction", 2),
     (["--validation-text", "HELD", "--validation-fraction", "0.1"], "drop --validation-fraction", 2),
     (["--test-text", "CORPUS/a.txt"], "is in the --corpus too", 2),
     (["--validation-text", "HELD/missing.txt"], "--validation-text", 1)],  # fmt: skip
)
def test_bad_held_out_texts_are_one_line_and_no_run(tmp_path, tiny_corpus, capsys, monkeypatch, flags, message, code):
    held = tmp_path / "held"
    held.mkdir()
    (held / "test.txt").write_text(TINY_TEXT, encoding="utf-8")
    monkeypatch.setattr(run_corpus, "build_corpus", lambda *a, **k: pytest.fail("the corpus was read"))
    flags = [f.replace("HELD", str(held)).replace("CORPUS", str(tiny_corpus)) for f in flags]
    assert train_tiny(tiny_corpus, tmp_path / "logs", *flags) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not run_folders(tmp_path / "logs")


@pytest.mark.slow
@pytest.mark.parametrize("context", ["window", "full"])
def test_a_regularised_tied_run_trains_keeps_the_plain_model_and_shows_its_terms(tmp_path, tiny_corpus, context):
    from tests.helpers import values
    from word_predictor.model.factory import build_model

    flags = ["--context", context, "--dropout", "0.3", "--locked-dropout", "--weight-drop", "0.3",
             "--embedding-dropout", "0.1", "--activation-regularisation", "2", "--temporal-activation-regularisation",
             "1", "--tie-weights", "--weight-averaging", "--lr-patience", "1", "--layers", "2"]  # fmt: skip
    if context == "full":
        flags += ["--bptt", "5", "--batch-size", "4"]
    assert train_tiny(tiny_corpus, tmp_path / "logs", "--run-name", "reg", *flags) == 0  # units 8, embedding 4
    run = tmp_path / "logs" / "reg"
    config, provenance = load_config(run / "config.json")
    assert (config.locked_dropout, config.weight_drop, config.embedding_dropout, config.weight_averaging,
            config.lr_patience) == (True, 0.3, 0.1, True, 1)  # fmt: skip
    kept = rundir.load_model(run / "model.keras")  # the plain inference view: no regulariser in it
    assert [(layer.name, type(layer)) for layer in kept.layers] == [
        (layer.name, type(layer)) for layer in build_model(config, facts_from(provenance)).layers
    ]
    assert "tied_projection" in [layer.name for layer in kept.layers]
    for tag in ("epoch_activation_regularisation", "epoch_temporal_activation_regularisation"):
        shown = values(run / "train", tag)
        assert [step for step, _ in shown] == [0, 1] and all(value > 0 for _, value in shown)
    assert rundir.is_complete(run)
