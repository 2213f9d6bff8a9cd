"""The continuous cache on the runtime: an exported folder learns the words typed from the
graph's "hidden" output, through the library and the commands, and one exported before the
graph gave it out answers as before but refuses to learn, in one line. Needs NumPy, onnx
and onnxruntime only (the Keras comparison is tests/adaptation/test_runtime.py)."""

import io
import json

import pytest

pytest.importorskip("onnx", reason="the export extra (pip install -e .[export]) is not installed")
pytest.importorskip("onnxruntime", reason="the runtime extra (pip install -e .[runtime]) is not installed")

from tests.runtime.folders import make_folder  # noqa: E402
from tests.runtime.test_manifest import edited  # noqa: E402
from word_predictor import evaluate, predict  # noqa: E402
from word_predictor.adaptation.settings import CacheSettings  # noqa: E402
from word_predictor.errors import AdaptationUnavailable  # noqa: E402
from word_predictor.predictor.adaptive import AdaptivePredictor  # noqa: E402
from word_predictor.runtime import load  # noqa: E402

pytestmark = pytest.mark.runtime

NAME = "zorblax"  # outside every test vocabulary
TYPED = ["the bread and zorblax rest on the table", "the dough and zorblax rest in the bowl"]


def older_export(folder):
    """`folder` as an export made before the graph gave out the hidden state: its manifest
    records none (hashed again, as that version wrote it)."""
    return edited(folder, lambda manifest: manifest.pop("hidden"), rehash=True)


@pytest.mark.parametrize("settings", [{}, {"context": "full", "layers": 2}], ids=["window", "full"])
def test_an_exported_folder_learns_a_made_up_name(settings, tmp_path):
    predictor = load(make_folder(tmp_path / "exported", **settings))
    learner = AdaptivePredictor.over(predictor, CacheSettings(mix=0.5))
    assert learner.complete("the cake and zor").completions == []
    picked = [learner.learn(line) for line in TYPED]  # (the small vocabulary leaves other words new too)
    assert NAME in picked[0] and NAME not in picked[1] and learner.learned()[NAME] == 2
    assert NAME in dict(learner.complete("the cake and zor").completions)
    assert NAME not in dict(predictor.complete("the cake and zor").completions)  # the plain predictor learned nothing


def test_the_plain_reader_asks_the_graph_for_the_logits_alone(tmp_path):
    predictor = load(make_folder(tmp_path / "exported"))
    assert predictor.reader.model.outputs == ["logits"]  # nothing more is computed for a plain answer
    assert predictor.hidden_reader().model.outputs == ["logits", "hidden"]
    assert predictor.hidden_reader().model.session is predictor.reader.model.session  # one session


def test_an_older_export_answers_but_refuses_to_learn(tmp_path):
    folder = older_export(make_folder(tmp_path / "exported"))
    predictor = load(folder)
    assert len(predictor.suggest("the bread is").predictions) == 5
    with pytest.raises(AdaptationUnavailable, match="export the run again"):
        predictor.hidden_reader()
    with pytest.raises(AdaptationUnavailable, match="hidden state"):
        AdaptivePredictor.over(predictor)


def test_the_commands_learn_on_an_export_and_refuse_an_older_one_in_one_line(tmp_path, capsys, monkeypatch):
    folder = make_folder(tmp_path / "exported")
    lines = tmp_path / "lines.txt"
    lines.write_text("\n".join(TYPED) + "\nthe cake and zor\n", encoding="utf-8")
    argv = ["--run", str(folder), "--input", str(lines), "--complete", "--json", "--adapt"]
    assert predict.main(argv) == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert NAME in answers[0]["learned"] and NAME in [c["word"] for c in answers[2]["completions"]]
    story = tmp_path / "story.txt"
    story.write_text(" ".join(TYPED * 4), encoding="utf-8")
    assert evaluate.main(["--run", str(folder), "--text", str(story), "--json", "--adapt", "cache"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["adapted"]["tokens"] == scores["tokens"] and scores["adapted"]["perplexity"] != scores["perplexity"]

    older_export(folder)
    evaluating = ["--run", str(folder), "--text", str(story), "--adapt"]
    for main, command in ((predict.main, argv), (evaluate.main, evaluating)):
        assert main(command) == 1
        captured = capsys.readouterr()
        assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
        assert "--adapt cannot be used here" in captured.err and "export the run again" in captured.err
    # --interactive learns by default: on an older export it says so once and answers all the same
    monkeypatch.setattr("sys.stdin", io.StringIO("the bread is\n"))
    assert predict.main(["--run", str(folder), "--interactive"]) == 0
    captured = capsys.readouterr()
    assert "nothing typed is learned" in captured.err and captured.out.strip()
