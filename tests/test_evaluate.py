import json
import math

import numpy as np
import pytest

from tests.helpers import TINY_TEXT
from word_predictor import scoring
from word_predictor import evaluate
from word_predictor.corpus.splits import Split
from word_predictor.config import Config
from word_predictor.rundir import load_run
from word_predictor.batches.windows import WindowReader

pytestmark = pytest.mark.backend

class FixedModel:
    """Always the same distribution over 4 words: [<unk>, a, b, c] = [.1, .6, .2, .1]."""

    def predict_on_batch(self, contexts):
        return np.tile(np.log(np.array([0.1, 0.6, 0.2, 0.1], np.float32)), (len(contexts), 1))


def test_score_counts_every_full_window_once():
    split = Split.from_lengths(np.array([1, 1, 2, 0, 1, 3], np.int32), [4, 2])
    scores = scoring.score(WindowReader(FixedModel(), Config(window_size=2)), split, batch_size=1)
    # targets: 2 and 0 in the first segment (ids[2], ids[3]); none in the second (2 tokens)
    assert scores["tokens"] == 2
    assert scores["perplexity"] == pytest.approx(math.exp(-(math.log(0.2) + math.log(0.1)) / 2), rel=1e-5)
    assert scores["top1"] == 0.0 and scores["top5"] == 1.0
    assert scores["known_top1"] == 0.0 and scores["known_tokens"] == 1


@pytest.mark.slow
def test_evaluate_on_own_test_split_matches_training_metrics(trained_run, capsys):
    assert evaluate.main(["--run", str(trained_run), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert set(scores) >= {"tokens", "perplexity", "top1", "top5", "known_top1", "known_top3", "known_top5"}
    recorded = json.loads((trained_run / "metrics.json").read_text())["test"]
    assert scores["tokens"] == recorded["tokens"]
    assert scores["perplexity"] == pytest.approx(recorded["perplexity"], rel=1e-4)
    assert scores["unknown_rate"] == pytest.approx(recorded["unknown_rate"])
    assert scores["known_tokens"] == recorded["known_tokens"]
    assert list(scores)[1:4] == ["keystroke_savings", "top3", "perplexity"]  # what a user sees, first


@pytest.mark.slow
def test_evaluate_on_another_text(trained_run, tmp_path, capsys):
    text = tmp_path / "other.txt"
    text.write_text(TINY_TEXT * 3, encoding="utf-8")
    assert evaluate.main(["--run", str(trained_run), "--text", str(text)]) == 0
    out = capsys.readouterr().out
    assert "perplexity:" in out and "known top-5:" in out
    perplexity = float(out.split("perplexity:")[1].split()[0])
    assert evaluate.main(["--run", str(trained_run), "--text", str(text), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    # The same figure computed here from the run's model alone: every word with a full
    # window before it, scored by the softmax of the model's logits after that window.
    run = load_run(trained_run)
    ids = run.vocabulary.encode(run.vocabulary.tokenizer.tokens(TINY_TEXT * 3))
    size = run.config.window_size
    windows = np.stack([ids[i - size : i] for i in range(size, len(ids))])
    logits = np.asarray(run.model.predict_on_batch(windows), np.float64)
    log_p = logits - logits.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    expected = math.exp(-log_p[np.arange(len(windows)), ids[size:]].mean())
    assert scores["tokens"] == len(windows)
    assert scores["perplexity"] == pytest.approx(expected, rel=1e-4)
    assert perplexity == pytest.approx(expected, rel=1e-2)  # as printed, rounded


def test_read_ahead_keeps_order_runs_one_item_ahead_and_passes_errors_on():
    import threading
    import time

    made = []

    def items():
        for i in range(5):
            made.append((i, threading.current_thread().name))
            yield i

    seen = []
    for item in scoring.read_ahead(items()):
        seen.append(item)
        # the next item is made while the caller still holds this one, without asking for it
        deadline = time.monotonic() + 10
        while len(made) < min(item + 2, 5) and time.monotonic() < deadline:
            time.sleep(0.001)
        assert len(made) == min(item + 2, 5)
    assert seen == [0, 1, 2, 3, 4]
    assert all(name.startswith("scoring") for _, name in made)

    def failing():
        yield 1
        raise ValueError("broken model")

    with pytest.raises(ValueError, match="broken model"):
        list(scoring.read_ahead(failing()))


def test_the_text_leads_with_what_a_user_sees_and_puts_the_unknown_share_beside_perplexity():
    tally = scoring.figures.Tally(unknown_id=0)
    keystrokes = scoring.keyboard.Keystrokes(costs=np.array([1, 2, 3, 4]), letters=np.array([4, 4, 4, 4]))
    tally.add(np.log(np.full(4, 0.5)), np.array([0, 1, 2, 7]), np.array([0, 5, 6, 0]), keystrokes)
    figures = {**tally.summary(), "bits_per_word": 1.0}
    lines = scoring.format_scores(figures).splitlines()
    assert lines[0].startswith("keystrokes saved:  37.50%")
    assert lines[1].startswith("top-3 accuracy:    75.00%   (the next word among 3 suggestions)")
    assert lines[2].startswith("perplexity:        2.00   (50.0% of targets unknown to the run")
