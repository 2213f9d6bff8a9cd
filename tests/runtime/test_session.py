"""The runtime on exported ONNX folders: carried state, the Predictor's answers, and the
bad folders it refuses. Needs NumPy, onnx and onnxruntime only (CI runs these where Keras,
TensorFlow and JAX are not installed)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx", reason="the export extra (pip install -e .[export]) is not installed")
pytest.importorskip("onnxruntime", reason="the runtime extra (pip install -e .[runtime]) is not installed")

from tests.exporter.kinds import real_split  # noqa: E402
from tests.runtime.folders import import_blocker, make_folder  # noqa: E402
from word_predictor import folder_files, evaluate, predict  # noqa: E402
from word_predictor.exporter.manifest import ExportError  # noqa: E402
from word_predictor.runtime import load  # noqa: E402

pytestmark = pytest.mark.runtime
ROOT = Path(__file__).resolve().parents[2]

FULL_KINDS = {
    "lstm-stacked": {"context": "full", "layers": 2},
    "gru": {"cell": "gru", "context": "full"},
    "simple_rnn-char": {"cell": "simple_rnn", "context": "full", "level": "char"},
}


@pytest.mark.parametrize("kind", FULL_KINDS)
def test_a_token_at_a_time_with_the_state_carried_equals_one_full_call(kind, tmp_path):
    predictor = load(make_folder(tmp_path / "exported", **FULL_KINDS[kind]))
    model = predictor.reader.model
    ids = real_split(predictor.vocabulary, 40).ids[None]  # (1, 40)
    whole, whole_state = model.step(ids, model.zero_state(1))  # (1, 40, vocabulary)
    state, steps = model.zero_state(1), []
    for position in range(ids.shape[1]):
        logits, state = model.step(ids[:, position : position + 1], state)
        steps.append(logits[:, 0])
    assert np.abs(np.stack(steps, axis=1) - whole).max() < 1e-5
    assert all(np.abs(a - b).max() < 1e-5 for a, b in zip(state, whole_state))
    # The reader's own advance, from a context read whole, gives the same figures.
    logits, carried = predictor.reader.start([ids[0, :10]])
    for position in range(10, 40):
        assert np.abs(logits[0] - whole[0, position - 1]).max() < 1e-5
        logits, carried = predictor.reader.advance(carried, ids[:, position])


def test_scored_covers_each_target_once_from_all_the_text_before_it(tmp_path):
    predictor = load(make_folder(tmp_path / "exported", context="full"))
    split = real_split(predictor.vocabulary, 300)
    model = predictor.reader.model
    pieces = list(predictor.reader.scored(split, batch_size=64))  # chunks shorter than a segment
    targets = np.concatenate([t for _, t in pieces])
    assert targets.size == 298  # every token but each segment's first
    second = split.ids[150:300][None]
    whole, _ = model.step(second, model.zero_state(1))
    assert np.abs(np.concatenate([logits for logits, _ in pieces])[149:] - whole[0, :-1]).max() < 1e-5


BLOCKER = import_blocker()


def _blocked_python(script: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + script], cwd=cwd, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


def test_the_runtime_and_the_commands_work_with_keras_tensorflow_and_jax_unimportable(tmp_path):
    make_folder(tmp_path / "window")
    make_folder(tmp_path / "full", context="full")
    (tmp_path / "text.txt").write_text("the bread is made of flour and water . " * 5, encoding="utf-8")
    script = """
import json, runpy
from word_predictor.runtime import load
for name in ("window", "full"):
    predictor = load(name)
    print(json.dumps([w for w, _ in predictor.suggest("the bread is").predictions]))
    print(len(predictor.generate("the bread", 6, seed=1).samples[0].tokens))
sys.argv = ["predict", "--run", "full", "--json", "the bread is"]
try:
    runpy.run_module("word_predictor.predict", run_name="__main__")
except SystemExit as stop:
    assert stop.code == 0, stop.code
sys.argv = ["evaluate", "--run", "window", "--text", "text.txt", "--json"]
try:
    runpy.run_module("word_predictor.evaluate", run_name="__main__")
except SystemExit as stop:
    assert stop.code == 0, stop.code
assert not any(m.split(".")[0] in ("keras", "tensorflow", "jax") for m in sys.modules)
"""
    done = _blocked_python(script, tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [len(json.loads(lines[i])) for i in (0, 2)] == [5, 5] and lines[1] == lines[3] == "6"
    assert json.loads(lines[4])["context"] == ["the", "bread", "is"]
    assert json.loads(lines[5])["tokens"] > 0


def test_the_predict_command_gives_the_runtime_predictor_s_answers(tmp_path, capsys):
    folder = make_folder(tmp_path / "exported")
    assert predict.main(["--run", str(folder), "--json", "--top-k", "5", "the bread is"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [p["word"] for p in shown["predictions"]] == [
        w for w, _ in load(folder).suggest("the bread is").predictions
    ]


def _one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


def test_a_tampered_model_or_vocabulary_is_refused_in_one_line(tmp_path, capsys):
    for file in ("model.onnx", "vocabulary.json"):
        folder = make_folder(tmp_path / file)
        with open(folder / file, "ab") as stream:
            stream.write(b" ")
        with pytest.raises(ExportError, match="hash differs"):
            load(folder)
        assert predict.main(["--run", str(folder), "the bread"]) == 1
        assert f"{file} is not the file this folder was exported with" in _one_error_line(capsys)


def test_a_manifest_from_a_newer_format_version_is_refused_in_one_line(tmp_path, capsys):
    folder = make_folder(tmp_path / "exported")
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "format": "word_predictor.export/99"}))
    assert evaluate.main(["--run", str(folder), "--text", str(folder / "vocabulary.json")]) == 1
    assert "newer word_predictor (format version 99" in _one_error_line(capsys)
    (folder / "manifest.json").write_text(json.dumps({**manifest, "format": "something else/1"}))
    assert predict.main(["--run", str(folder), "the bread"]) == 1
    assert "not a word_predictor export manifest" in _one_error_line(capsys)


def test_a_manifest_of_a_context_this_version_does_not_know_is_refused_in_one_line(tmp_path, capsys):
    folder = make_folder(tmp_path / "exported")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["settings"]["context"] = manifest["context"] = "sideways"  # both, and hashed again: only the name is new
    manifest["manifest_sha256"] = folder_files.manifest_hash(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert predict.main(["--run", str(folder), "the bread"]) == 1
    assert "unknown context 'sideways'; choose one of window, full" in _one_error_line(capsys)


def test_evaluate_on_an_exported_folder_needs_a_text(tmp_path, capsys):
    folder = make_folder(tmp_path / "exported")
    assert evaluate.main(["--run", str(folder)]) == 2
    assert "keeps no test split; pass --text FILE" in _one_error_line(capsys)


def test_without_onnxruntime_the_runtime_names_the_install(tmp_path, monkeypatch, capsys):
    folder = make_folder(tmp_path / "exported")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    assert predict.main(["--run", str(folder), "the bread"]) == 1
    assert "pip install -r requirements-runtime.txt" in _one_error_line(capsys)


def test_the_session_s_idle_threads_sleep_rather_than_spin(tmp_path):
    """On cores shared with other work, spinning threads take the CPU from the ones with work."""
    session = load(make_folder(tmp_path / "exported", context="full")).reader.model.session
    assert session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"
