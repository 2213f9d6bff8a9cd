"""word_predictor.engines: which engine answers a folder, each reason a run falls back to
Keras, and a run read both ways giving the same answers.

The tests marked `runtime` need no Keras (CI runs them where it cannot be imported):
their run folders hold a status.json and the runtime/ folder training writes, made by
the exporter's own write_export from random weights; the Keras loader is replaced in
LOADERS by a stand-in that records the call.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the runtime extra (pip install -e .[runtime]) is not installed")
pytest.importorskip("onnx", reason="the runtime's test folders are written with onnx")

from tests.exporter.kinds import KINDS, log_softmax, real_split  # noqa: E402
from tests.runtime.folders import import_blocker, make_folder  # noqa: E402
from word_predictor import engines, evaluate, folder_files, predict, rundir  # noqa: E402
from word_predictor.config import CorpusFacts, config_json  # noqa: E402
from word_predictor.exporter.manifest import MANIFEST_FILE, check_and_load  # noqa: E402
from word_predictor.runtime import load  # noqa: E402
from word_predictor.text import sha256_of  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-4  # as tests/exporter/test_onnx.py: log-probabilities of the two engines


def runtime_run(folder: Path, **settings) -> Path:
    """A complete run folder written without Keras: runtime/ as training writes it, the run's
    own files beside it (model.keras stands in: only its hash is checked before Keras loads it)."""
    folder.mkdir()
    runtime = make_folder(folder / engines.RUNTIME_DIR, **settings)
    _, config, vocabulary = check_and_load(runtime)
    shutil.copy(runtime / "vocabulary.json", folder / rundir.VOCABULARY_FILE)
    vocabulary_sha256 = sha256_of(folder / rundir.VOCABULARY_FILE)
    facts = CorpusFacts(vocabulary_size=len(vocabulary))
    rundir.write_atomic(folder / rundir.CONFIG_FILE, config_json(config, facts, vocabulary_sha256=vocabulary_sha256))
    (folder / rundir.MODEL_FILE).write_bytes(b"read by Keras only")
    rundir.write_json(folder / rundir.METRICS_FILE, {})
    rundir.write_test_split(folder, real_split(vocabulary, 100))
    status = {"complete": True, "finished": 1.0, "model_sha256": sha256_of(folder / rundir.MODEL_FILE),
              "runtime_sha256": sha256_of(runtime / MANIFEST_FILE)}  # fmt: skip
    rundir.write_json(folder / rundir.STATUS_FILE, status)
    return folder


def _status(run: Path, **fields) -> None:
    rundir.write_json(run / rundir.STATUS_FILE, {**rundir.read_status(run), **fields})


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _without_runtime_hash(run: Path) -> None:  # as an older version wrote it
    status = rundir.read_status(run)
    status.pop("runtime_sha256")
    rundir.write_json(run / rundir.STATUS_FILE, status)


def _other_vocabulary(run: Path) -> None:  # another vocabulary, config.json's hash of it forged to match
    data = json.loads((run / rundir.VOCABULARY_FILE).read_text(encoding="utf-8"))
    data["counts"][0] += 1
    (run / rundir.VOCABULARY_FILE).write_text(json.dumps(data), encoding="utf-8")
    config = json.loads((run / rundir.CONFIG_FILE).read_text(encoding="utf-8"))
    config["vocabulary_sha256"] = sha256_of(run / rundir.VOCABULARY_FILE)
    (run / rundir.CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")


# name -> (what is done to a good run folder, a phrase of the reason given)
FALL_BACKS = {
    "made by an older version": (_without_runtime_hash, "has no ONNX model"),
    "runtime folder missing": (lambda run: shutil.rmtree(run / engines.RUNTIME_DIR), "manifest.json is missing"),
    "manifest not the run's": (lambda run: _status(run, runtime_sha256="f" * 64), "not the one this run finished"),
    "model.onnx truncated": (lambda run: _truncate(run / engines.RUNTIME_DIR / "model.onnx"),
                             "is not the file this folder was exported with"),
    "model.onnx missing": (lambda run: (run / engines.RUNTIME_DIR / "model.onnx").unlink(), "model.onnx is missing"),
    "model.onnx of another run": (
        lambda run: shutil.copy(make_folder(run.parent / "other", seed=3) / "model.onnx",
                                run / engines.RUNTIME_DIR / "model.onnx"),
        "is not the file this folder was exported with"),
    "vocabulary not the run's": (_other_vocabulary, "other settings or another vocabulary than the run's"),
}  # fmt: skip


@pytest.fixture
def keras_stand_in(monkeypatch):
    """LOADERS["keras"] replaced: the folders it is asked for, and a marker instead of a Predictor."""
    asked = []
    monkeypatch.setitem(engines.LOADERS, "keras", lambda folder, backend_name: asked.append(folder) or "keras")
    return asked


@pytest.mark.runtime
def test_a_complete_run_with_its_onnx_model_is_answered_by_the_runtime(tmp_path, keras_stand_in, capsys):
    run = runtime_run(tmp_path / "run")
    assert engines.runtime_problem(run) is None and engines.engine_for(run) == "runtime"
    predictor = engines.load(run, verbose=True)
    exported = load(run / engines.RUNTIME_DIR)
    assert predictor.suggest("the bread is").predictions == exported.suggest("the bread is").predictions
    assert len(predictor.suggest("the bread is").predictions) == 5 and keras_stand_in == []
    assert capsys.readouterr().err == ""


@pytest.mark.runtime
def test_load_named_says_which_engine_answers(tmp_path, keras_stand_in):
    """What serve's /v1/model shows: the engine that answers, not the kind of folder."""
    run = runtime_run(tmp_path / "run")
    name, predictor = engines.load_named(run)
    assert name == "runtime" and predictor.suggest("the bread is").predictions and keras_stand_in == []
    assert engines.load_named(run, "keras") == ("keras", "keras")
    assert engines.load_named(run / engines.RUNTIME_DIR)[0] == "runtime"  # an exported folder
    (run / engines.RUNTIME_DIR / "manifest.json").unlink()  # the fall back to Keras is named too
    assert engines.load_named(run) == ("keras", "keras")


@pytest.mark.runtime
@pytest.mark.parametrize("case", FALL_BACKS)
def test_each_fall_back_is_keras_said_only_when_verbose_and_refused_under_engine_runtime(
        case, tmp_path, keras_stand_in, capsys):  # fmt: skip
    run = runtime_run(tmp_path / "run")
    spoil, phrase = FALL_BACKS[case]
    spoil(run)
    assert engines.engine_for(run) == "keras"
    assert engines.load(run) == "keras" and capsys.readouterr().err == ""
    assert engines.load(run, verbose=True) == "keras"
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("answering with Keras: ") and phrase in line
    with pytest.raises(engines.EngineError, match="--engine runtime cannot answer for") as refused:
        engines.load(run, "runtime")
    assert phrase in str(refused.value) and "\n" not in str(refused.value)
    assert keras_stand_in == [run, run]


@pytest.mark.runtime
@pytest.mark.parametrize("engine", ["auto", "runtime"])
def test_a_run_whose_own_files_fail_their_checks_is_refused_by_either_engine(engine, tmp_path, keras_stand_in):
    incomplete, edited = runtime_run(tmp_path / "incomplete"), runtime_run(tmp_path / "edited")
    _status(incomplete, complete=False)
    (edited / rundir.VOCABULARY_FILE).write_text("{}", encoding="utf-8")
    with pytest.raises(rundir.RunError, match="is incomplete"):
        engines.load(incomplete, engine)
    with pytest.raises(rundir.RunError, match="does not match the one this run was trained with"):
        engines.load(edited, engine)
    assert keras_stand_in == [] and engines.engine_for(edited) is None


@pytest.mark.runtime
def test_mixed_precision_a_keras_only_feature_and_no_onnxruntime_fall_back(tmp_path, keras_stand_in, monkeypatch):
    mixed = runtime_run(tmp_path / "mixed", precision="mixed_float16")
    assert "computes in mixed_float16" in engines.runtime_problem(mixed)
    good = runtime_run(tmp_path / "good")
    assert "done by the Keras model only" in engines.runtime_problem(good, keras_only="dynamic evaluation")
    with pytest.raises(engines.EngineError, match="dynamic evaluation needs a run folder's Keras model"):
        engines.load(good / engines.RUNTIME_DIR, keras_only="dynamic evaluation")  # an exported folder
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now fails
    assert "onnxruntime is not installed" in engines.runtime_problem(good)
    assert engines.load(good) == "keras"


@pytest.mark.runtime
def test_the_cache_is_the_runtime_s_unless_its_export_gives_no_hidden_state(tmp_path, keras_stand_in, capsys):
    run = runtime_run(tmp_path / "run")
    assert engines.runtime_problem(run, adapts=True) is None
    assert engines.load(run, adapts=True).hidden_reader() is not None and keras_stand_in == []
    # RUN/runtime/ written by a version whose graph gave out no hidden state: Keras learns instead
    manifest = run / engines.RUNTIME_DIR / MANIFEST_FILE
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data.pop("hidden")
    data["manifest_sha256"] = folder_files.manifest_hash(data)
    manifest.write_text(json.dumps(data), encoding="utf-8")
    _status(run, runtime_sha256=sha256_of(manifest))
    assert engines.runtime_problem(run) is None  # it still answers what it can
    assert "gives out no hidden state" in engines.runtime_problem(run, adapts=True)
    assert engines.load(run, adapts=True, verbose=True) == "keras" and keras_stand_in == [run]
    assert "answering with Keras: its ONNX model gives out no hidden state" in capsys.readouterr().err
    with pytest.raises(engines.EngineError, match="--engine runtime cannot answer .* no hidden state"):
        engines.load(run, "runtime", adapts=True)


@pytest.mark.runtime
def test_engine_keras_reads_model_keras_and_refuses_an_exported_folder(tmp_path, keras_stand_in):
    run = runtime_run(tmp_path / "run")
    assert engines.load(run, "keras") == "keras" and keras_stand_in == [run]
    with pytest.raises(engines.EngineError, match="--engine keras needs a run folder's Keras model"):
        engines.load(run / engines.RUNTIME_DIR, "keras")


@pytest.mark.runtime
def test_the_commands_refuse_in_one_line_under_engine_runtime(tmp_path, capsys):
    run = runtime_run(tmp_path / "run")
    _truncate(run / engines.RUNTIME_DIR / "model.onnx")
    assert predict.main(["--run", str(run), "--engine", "runtime", "the bread"]) == 1
    assert evaluate.main(["--run", str(run), "--engine", "runtime"]) == 1
    for line in capsys.readouterr().err.splitlines():  # one line each, no traceback
        assert line.startswith(("word_predictor.predict: error: --engine runtime cannot answer",
                                "word_predictor.evaluate: error: --engine runtime cannot answer"))  # fmt: skip


# --------------------------------------------------------------- with Keras: runs trained or written


def written_run(folder: Path, settings: dict) -> Path:
    """A complete run folder of one kind (random weights), its end written as training's is."""
    from tests.exporter.kinds import make_run
    from word_predictor.config import config_json
    from word_predictor.training.finish import write_runtime

    run = make_run(settings)
    folder.mkdir()
    (folder / rundir.VOCABULARY_FILE).write_text(run.vocabulary.to_json(), encoding="utf-8")
    vocabulary_sha256 = sha256_of(folder / rundir.VOCABULARY_FILE)
    rundir.write_atomic(folder / rundir.CONFIG_FILE, config_json(run.config, run.facts, vocabulary_sha256=vocabulary_sha256))
    rundir.save_model_atomic(run.model, folder / rundir.MODEL_FILE)
    rundir.write_json(folder / rundir.METRICS_FILE, {})
    rundir.write_test_split(folder, real_split(run.vocabulary, 200))
    rundir.write_status(folder, runtime_sha256=write_runtime(folder, run.config, run.vocabulary, run.model))
    rundir.mark_complete(folder)
    return folder


# word and char, window and full context; bidirectional and tied among them
BOTH_WAYS_KINDS = ("lstm-window", "lstm-full-stacked", "gru-char-window", "lstm-char-full", "gru-bidirectional",
                   "gru-full-tied-projected")  # fmt: skip


@pytest.mark.parametrize("kind", BOTH_WAYS_KINDS)
def test_one_run_read_both_ways_gives_the_same_top_5_and_figures(kind, tmp_path):
    from word_predictor.scoring.evaluate import score_run

    run = written_run(tmp_path / "run", KINDS[kind])
    keras, runtime = engines.load(run, "keras"), engines.load(run, "runtime")
    text = "the dough rests for an hour" if keras.config.level == "word" else "the dough rests for an h"
    for shown, other in zip(keras.suggest(text).predictions, runtime.suggest(text).predictions):
        assert shown[0] == other[0] and abs(np.log(shown[1]) - np.log(other[1])) < TOLERANCE
    split = rundir.read_test_split(run)
    ours, theirs = score_run(keras, split), score_run(runtime, split)
    assert ours["tokens"] == theirs["tokens"] and ours["top5"] == theirs["top5"] and ours["top1"] == theirs["top1"]
    assert abs(np.log(ours["perplexity"]) - np.log(theirs["perplexity"])) < TOLERANCE
    contexts = [split.ids[:length] for length in (1, 4, 9)]
    gap = log_softmax(keras.reader.start(contexts)[0]) - log_softmax(runtime.reader.start(contexts)[0])
    assert np.abs(gap).max() < TOLERANCE
    assert keras.continue_text(text, 6) == runtime.continue_text(text, 6)


def test_training_writes_the_runtime_folder_and_a_resumed_end_replaces_it(trained_run, tmp_path, monkeypatch):
    from word_predictor.rundir import load_run
    from word_predictor.training.finish import write_runtime

    status = rundir.read_status(trained_run)
    assert status["runtime_sha256"] == sha256_of(trained_run / engines.RUNTIME_DIR / MANIFEST_FILE)
    assert engines.engine_for(trained_run) == "runtime"
    run = load_run(trained_run)
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / rundir.CONFIG_FILE).write_bytes((trained_run / rundir.CONFIG_FILE).read_bytes())
    first = write_runtime(folder, run.config, run.vocabulary, run.model)
    run.model.set_weights([w * 0.5 for w in run.model.get_weights()])  # what more epochs would change
    second = write_runtime(folder, run.config, run.vocabulary, run.model)
    assert first != second == sha256_of(folder / engines.RUNTIME_DIR / MANIFEST_FILE)
    # Without onnx (the JAX or a minimal install) the run ends without the folder, and says nothing.
    monkeypatch.delitem(sys.modules, "word_predictor.exporter.onnx", raising=False)
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert write_runtime(folder, run.config, run.vocabulary, run.model) is None
    assert not (folder / engines.RUNTIME_DIR).exists()


BLOCKER = import_blocker(why="a run read by the runtime must not need it")


def test_a_trained_run_answers_every_command_without_importing_keras(trained_run, trained_full_run, tmp_path):
    typed = tmp_path / "typed.txt"  # for --input --adapt: the lines read as one text, learned as they come
    typed.write_text("the cat and zorblax sat on the mat\nthe dog and zorblax sat on the rug\nthe bird and zor\n")
    script = BLOCKER + f"""
from word_predictor import evaluate, generate, predict
for run in ({str(trained_run)!r}, {str(trained_full_run)!r}):
    assert predict.main(["--run", run, "--json", "--engine", "runtime", "the cat"]) == 0
    assert predict.main(["--run", run, "--json", "the cat"]) == 0
    assert generate.main(["--run", run, "--json", "--seed", "1", "--words", "3"]) == 0
    assert evaluate.main(["--run", run, "--json"]) == 0
    assert predict.main(["--run", run, "--json", "--complete", "--input", {str(typed)!r}, "--adapt"]) == 0
    assert evaluate.main(["--run", run, "--json", "--adapt", "cache"]) == 0
print(sorted(m for m in sys.modules if m.split(".")[0] in ("keras", "tensorflow", "jax", "torch")))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]" and done.stderr == ""
    out = [json.loads(line) for line in done.stdout.splitlines()[:-1]]
    assert len(out[0]["predictions"]) == 5
    learned = [answer for answer in out if "learned" in answer]  # predict --adapt: 3 lines a run
    assert len(learned) == 6 and all("zorblax" in answers["learned"] for answers in learned[::3])
    assert sum("adapted" in answer for answer in out) == 2  # evaluate --adapt, each run


def test_a_broken_onnx_file_falls_back_to_keras_in_one_line_with_verbose(trained_run, tmp_path, capsys):
    from tests.helpers import copy_run

    run = copy_run(trained_run, tmp_path)
    _truncate(run / engines.RUNTIME_DIR / "model.onnx")
    assert predict.main(["--run", str(run), "--json", "the cat"]) == 0
    quiet = capsys.readouterr()
    assert quiet.err == "" and len(json.loads(quiet.out)["predictions"]) == 5
    assert predict.main(["--run", str(run), "--json", "--verbose", "the cat"]) == 0
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("answering with Keras: ") and "model.onnx is not the file" in line


@pytest.mark.runtime
def test_without_keras_a_fall_back_is_one_line_with_its_reason(tmp_path, monkeypatch, capsys):
    run = runtime_run(tmp_path / "run")
    _without_runtime_hash(run)
    monkeypatch.setitem(sys.modules, "keras", None)  # as in the Keras-free install
    assert predict.main(["--run", str(run), "the bread"]) == 1
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and "only Keras can answer for" in line and "(the run has no ONNX model" in line
    assert "no Keras backend is installed" in line


def test_runs_shows_the_engine_each_run_is_read_with(trained_run, tmp_path):
    from tests.helpers import copy_run
    from word_predictor import runs

    older = copy_run(trained_run, tmp_path, "older")
    shutil.rmtree(older / engines.RUNTIME_DIR)
    _without_runtime_hash(older)
    assert runs.describe(trained_run)["engine"] == "runtime" and runs.describe(older)["engine"] == "keras"
