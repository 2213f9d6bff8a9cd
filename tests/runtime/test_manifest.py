"""An exported folder whose manifest or model was edited is refused in one line, never read
another way: the manifest's own hash catches an edit, and its schema (types, ranges, the parts
that must agree with each other and with the model's inputs and outputs) catches the edits
made with the hash recomputed. Needs NumPy, onnx and onnxruntime only."""

import json
import shutil

import pytest

pytest.importorskip("onnx", reason="the export extra (pip install -e .[export]) is not installed")
pytest.importorskip("onnxruntime", reason="the runtime extra (pip install -e .[runtime]) is not installed")

from tests.exporter.kinds import vocabulary_of  # noqa: E402
from tests.runtime.folders import make_folder, random_weights  # noqa: E402
from word_predictor.config import Config  # noqa: E402
from word_predictor.exporter.folder import write_export  # noqa: E402
from word_predictor import folder_files, predict, serve  # noqa: E402
from word_predictor.exporter.manifest import ExportError, content_hash  # noqa: E402
from word_predictor.runtime import load  # noqa: E402

pytestmark = pytest.mark.runtime


def _set(**top):
    return lambda manifest: manifest.update(top)


def _settings(**settings):
    return lambda manifest: manifest["settings"].update(settings)


def _both(**values):
    """The same edit in the top-level reading rules and in the run's settings, so they agree."""
    return lambda manifest: (manifest.update(values), manifest["settings"].update(values))


def edited(folder, change, rehash: bool):
    """`folder` with its manifest changed by `change`; with `rehash` its hash recomputed, as an
    editor who knows the format would."""
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    if rehash:
        manifest["manifest_sha256"] = folder_files.manifest_hash(manifest)
    path.write_text(json.dumps(manifest))
    return folder


# The cases a hostile sweep met: each read another way (different answers, glued words) or a traceback.
WINDOW_EDITS = {
    "window_size 5 -> 2": (_set(window_size=2), "window_size is 2 but the run's settings say 5"),
    "context full on a window export": (_set(context="full"), "context is 'full'"),
    "level char": (_set(level="char"), "level is 'char'"),
    "window_size 0": (_both(window_size=0), "window_size: Input should be greater than or equal to 1"),
    "normalisation changed": (_set(normalisation="ascii"), "normalisation is 'ascii'"),
    "a state that is not one": (_set(states=[{"nope": 1}]), "it lacks states.0.name"),
    "window_size five": (_both(window_size="five"), "window_size: Input should be a valid integer"),
    "settings' window_size alone": (_settings(window_size=2), "window_size is 5 but the run's settings say 2"),
    "a changed normalisation, both places": (_both(normalisation="nonesuch"), "unknown normalisation 'nonesuch'"),
}


@pytest.mark.parametrize("case", WINDOW_EDITS)
@pytest.mark.parametrize("rehash", [False, True], ids=["hash kept", "hash recomputed"])
def test_an_edited_window_manifest_is_refused_in_one_line(case, rehash, tmp_path, capsys):
    change, problem = WINDOW_EDITS[case]
    folder = edited(make_folder(tmp_path / "exported"), change, rehash)
    expected = problem if rehash else "edited after the export"
    with pytest.raises(ExportError, match=expected):
        load(folder)
    assert predict.main(["--run", str(folder), "the bread is"]) == 1
    line = _one_error_line(capsys)
    assert "manifest.json" in line and expected in line


FULL_EDITS = {
    "a state shape of 999": (lambda m: m["states"][0].update(shape=["batch", 999]), "has 999 units"),
    "relabelled as a window export": (
        lambda m: (m.update(context="window", states=[]), m["settings"].update(context="window")),
        "takes lstm_1_state_0, lstm_1_state_1, tokens",
    ),
    "a hidden width of 999": (lambda m: m["hidden"].update(shape=["batch", "time", 999]), "gives 8 values in hidden"),
    "a hidden width that is not a number": (lambda m: m["hidden"].update(shape=["batch", "wide"]),
                                            "gives 8 values in hidden"),
    "a hidden output the graph lacks": (lambda m: m["hidden"].update(name="nope"), "gives no 'nope' output"),
    "a hidden output with no name": (lambda m: m["hidden"].pop("name"), "it lacks hidden.name"),
}  # fmt: skip


@pytest.mark.parametrize("case", FULL_EDITS)
def test_an_edited_full_context_manifest_is_refused_in_one_line(case, tmp_path, capsys):
    change, problem = FULL_EDITS[case]
    folder = edited(make_folder(tmp_path / "exported", context="full"), change, rehash=True)
    with pytest.raises(ExportError, match=problem):
        load(folder)
    assert predict.main(["--run", str(folder), "the bread is"]) == 1
    assert problem in _one_error_line(capsys)


def test_another_exports_model_with_its_hash_updated_is_refused_without_onnx_runtime_s_log(tmp_path, capfd):
    folder = make_folder(tmp_path / "exported")
    other = tmp_path / "other"  # a model of another vocabulary's size
    vocabulary = vocabulary_of("word", size=20)
    config = Config(units=8, embedding_dim=4)
    write_export(config, vocabulary, random_weights(config, len(vocabulary)), "onnx", other, source={"run": None})
    shutil.copy(other / "model.onnx", folder / "model.onnx")
    edited(folder, _set(model_sha256=content_hash(folder / "model.onnx")), rehash=True)
    with pytest.raises(ExportError, match="scores where the vocabulary and manifest.json say"):
        load(folder)
    capfd.readouterr()
    assert predict.main(["--run", str(folder), "the bread is"]) == 1
    captured = capfd.readouterr()  # the file descriptors: ONNX Runtime logs from C++, past sys.stderr
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "comes from another export" in lines[0], captured.err


def test_serve_refuses_an_edited_export_at_start_up_in_one_line(tmp_path, capsys):
    # The Keras-free pass of CI has no server packages; the TensorFlow pass runs this test.
    pytest.importorskip("uvicorn", reason="the serve extra is not installed in this environment")
    folder = edited(make_folder(tmp_path / "exported"), _set(window_size="five"), rehash=False)
    assert serve.main(["--model", str(folder), "--port", "0"]) == 1
    assert "edited after the export" in _one_error_line(capsys)


def test_a_format_1_manifest_without_its_own_hash_is_still_read_and_checked(tmp_path):
    folder = make_folder(tmp_path / "exported")
    edited(folder, lambda m: (m.pop("manifest_sha256"), m.update(format="word_predictor.export/1")), rehash=False)
    assert load(folder).suggest("the bread is").predictions
    edited(folder, _set(window_size=2), rehash=False)
    with pytest.raises(ExportError, match="window_size is 2"):
        load(folder)


def test_a_manifest_of_this_format_without_its_hash_is_refused(tmp_path):
    folder = edited(make_folder(tmp_path / "exported"), lambda m: m.pop("manifest_sha256"), rehash=False)
    with pytest.raises(ExportError, match="records no manifest_sha256"):
        load(folder)


def _one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]
