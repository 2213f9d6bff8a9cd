"""python -m word_predictor.export on trained runs: predict, generate and evaluate answer the
same from the run and from its export; bad input is one line, and nothing half-written."""

import json
import shutil
import sys

import pytest

pytest.importorskip("onnx", reason="the export extra (pip install -e .[export]) is not installed")
pytest.importorskip("onnxruntime", reason="the runtime extra (pip install -e .[runtime]) is not installed")

from tests.helpers import TINY_TEXT  # noqa: E402
from word_predictor import evaluate, folder_files, generate, predict  # noqa: E402
from word_predictor import export as command  # noqa: E402


@pytest.fixture(scope="module")
def exported(trained_run, trained_full_run, tmp_path_factory):
    """The tiny window run and the tiny full-context run, each exported to ONNX once."""
    root = tmp_path_factory.mktemp("exported")
    folders = {}
    for name, run in (("window", trained_run), ("full", trained_full_run)):
        assert command.main(["--run", str(run), "--format", "onnx", "--out", str(root / name)]) == 0
        folders[name] = (run, root / name)
    return folders


def _json(capsys, main, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("context", ["window", "full"])
def test_predict_json_gives_the_same_top_5_from_the_run_and_its_export(exported, context, capsys):
    run, folder = exported[context]
    for text in ("some of them look like", "the cat sat on the", "a dog and"):
        answers = [
            _json(capsys, predict.main, ["--run", str(where), "--json", text]) for where in (run, folder)
        ]
        assert [[p["word"] for p in a["predictions"]] for a in answers][0] == [
            p["word"] for p in answers[1]["predictions"]
        ]
        assert answers[0]["context"] == answers[1]["context"]


@pytest.mark.parametrize("context", ["window", "full"])
def test_evaluate_gives_the_same_perplexity_from_the_run_and_its_export(exported, context, capsys, tmp_path):
    run, folder = exported[context]
    text = tmp_path / "text.txt"
    text.write_text(TINY_TEXT * 4, encoding="utf-8")
    scores = [
        _json(capsys, evaluate.main, ["--run", str(where), "--text", str(text), "--json"])
        for where in (run, folder)
    ]
    assert scores[0]["tokens"] == scores[1]["tokens"]
    assert abs(scores[1]["perplexity"] / scores[0]["perplexity"] - 1) < 0.001


def test_generate_writes_the_same_sample_from_the_run_and_its_export(exported, capsys):
    run, folder = exported["full"]
    shown = []
    for where in (run, folder):
        assert generate.main(["--run", str(where), "--seed", "3", "--words", "12", "the cat"]) == 0
        shown.append(capsys.readouterr().out)
    assert shown[0] == shown[1] and shown[0].strip()


def test_the_manifest_describes_the_model_and_the_run(exported):
    run, folder = exported["full"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"] == "word_predictor.export/2" and manifest["output"]["holds"] == "logits"
    assert manifest["manifest_sha256"] == folder_files.manifest_hash(manifest)
    assert manifest["context"] == "full" and manifest["level"] == "word"
    assert [s["name"] for s in manifest["states"]] == ["lstm_1_state_0", "lstm_1_state_1"]  # h, c
    assert manifest["states"][0]["shape"] == ["batch", 8]
    assert manifest["hidden"]["name"] == "hidden" and manifest["hidden"]["shape"] == ["batch", "time", 8]
    assert manifest["source_run"]["run"] == str(run)
    assert (folder / "vocabulary.json").read_bytes() != b"" and sorted(p.name for p in folder.iterdir()) == [
        "manifest.json", "model.onnx", "vocabulary.json"]  # fmt: skip


def _one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


def _nothing_written(parent, name) -> bool:
    return not any(path.name.startswith((name, f".{name}")) for path in parent.iterdir())


def test_an_incomplete_run_is_refused_and_nothing_is_written(trained_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / "status.json").write_text(json.dumps({"complete": False}))
    assert command.main(["--run", str(run), "--out", str(tmp_path / "out")]) == 1
    assert "is incomplete" in _one_error_line(capsys)
    assert _nothing_written(tmp_path, "out")


def test_an_unknown_format_is_a_usage_error(trained_run, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        command.main(["--run", str(trained_run), "--format", "coreml", "--out", str(tmp_path / "out")])
    assert stop.value.code == 2 and "invalid choice: 'coreml'" in _one_error_line(capsys)
    assert _nothing_written(tmp_path, "out")


def test_a_missing_extra_names_the_pip_command(trained_run, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    monkeypatch.delitem(sys.modules, "word_predictor.exporter.onnx", raising=False)
    assert command.main(["--run", str(trained_run), "--out", str(tmp_path / "out")]) == 1
    assert "needs the onnx package: pip install -e .[export]" in _one_error_line(capsys)
    assert _nothing_written(tmp_path, "out")


def test_an_existing_out_folder_is_kept_as_it_was(trained_run, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    assert command.main(["--run", str(trained_run), "--out", str(out)]) == 1
    assert "already exists" in _one_error_line(capsys)
    assert [p.name for p in out.iterdir()] == ["mine.txt"]


def test_an_export_that_fails_midway_leaves_nothing_behind(trained_run, tmp_path, monkeypatch, capsys):
    from word_predictor.exporter import folder

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(folder, "manifest_for", full_disk)  # after the model file is written
    assert command.main(["--run", str(trained_run), "--out", str(tmp_path / "out")]) == 1
    assert "No space left on device; nothing was written" in _one_error_line(capsys)
    assert _nothing_written(tmp_path, "out")
