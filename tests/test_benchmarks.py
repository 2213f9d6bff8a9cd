"""benchmarks/: every script starts and documents its flags, its functions stay short, the
corpus loader reads as training does, and the PyTorch reference carries its state."""

from __future__ import annotations

import ast
import importlib
import sys

import numpy as np
import pytest

from tests.helpers import REPO, write

BENCHMARKS = sorted(path.stem for path in (REPO / "benchmarks").glob("*.py")
                    if path.stem not in ("__init__", "common", "reference", "sweep_results"))  # fmt: skip


@pytest.mark.parametrize("name", BENCHMARKS)
def test_each_benchmark_starts_and_prints_its_help(name, monkeypatch, capsys):
    module = importlib.import_module(f"benchmarks.{name}")
    monkeypatch.setattr(sys, "argv", [f"benchmarks.{name}", "--help"])  # a main() may read sys.argv
    with pytest.raises(SystemExit) as exit_:
        module.main()
    assert exit_.value.code == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"usage: benchmarks.{name} ") and "  -h, --help " in printed


def test_no_benchmark_function_is_longer_than_60_lines():
    long = []
    for path in sorted((REPO / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60:
                long.append(f"{path.name}:{node.lineno} {node.name}")
    assert not long


def test_the_corpus_loader_reads_as_training_does(tmp_path):
    from benchmarks import common
    from word_predictor.config import SettingError

    text = write(tmp_path / "a.txt", "The cat sat on the café mat . " * 3)
    settings = dict(unknown_threshold=1, validation_fraction=0, test_fraction=0)
    corpus = common.corpus_of([text], normalisation="ascii", window_size=2, **settings)
    assert corpus.splits["train"].token_count == 21  # seven words a sentence; the ascii rule drops "."
    assert "caf" in corpus.vocabulary.tokens and "the" in corpus.vocabulary.tokens  # the ascii rule, lower case
    # the window the settings pick decides the fewest tokens, as it does for train --corpus
    with pytest.raises(SettingError, match="window_size"):
        common.corpus_of([text], window_size=30, **settings)


def test_the_pytorch_reference_carries_its_state_and_reads_the_last_step():
    torch = pytest.importorskip("torch")
    from benchmarks.reference import LanguageModel

    torch.manual_seed(0)
    model = LanguageModel(11, 4, 5, 2, dropout=0.5, initial_range=0.1).eval()
    assert model.embedding.weight.abs().max() <= 0.1 and not model.output.bias.any()
    tokens = torch.randint(0, 11, (6, 3))  # (time, lanes)
    whole, _ = model(tokens)
    assert whole.shape == (6, 3, 11)
    first, state = model(tokens[:4])
    rest, _ = model(tokens[4:], state)  # the state after four steps continues the text
    np.testing.assert_allclose(torch.cat([first, rest]).detach(), whole.detach(), rtol=1e-5, atol=1e-6)

    torch.manual_seed(0)
    by_batch = LanguageModel(11, 4, 5, 2, dropout=0.5, cell="gru", batch_first=True, last_only=True).eval()
    last, _ = by_batch(tokens.T)  # (batch, time) -> the last step's logits, (batch, vocabulary)
    by_batch.last_only = False
    every_step, _ = by_batch(tokens.T)
    assert last.shape == (3, 11)
    np.testing.assert_allclose(last.detach(), every_step[:, -1].detach(), rtol=1e-5, atol=1e-6)


def test_before_after_counts_the_cpu_seconds_of_the_child_it_ran():
    import subprocess
    import sys

    from benchmarks.before_after import _children_cpu

    begin = _children_cpu()
    subprocess.run([sys.executable, "-c", "sum(i * i for i in range(3_000_000))"], check=True)
    assert _children_cpu() - begin > 0.05  # the child's own work, counted once it has ended
@pytest.mark.skipif(not (REPO.parent / "shared" / "data" / "wikitext2-train.txt").is_file(),
                    reason="../shared/data is absent")  # fmt: skip
def test_the_growing_corpus_keeps_finding_new_words_as_real_text_does(tmp_path):
    import collections

    from benchmarks import common

    distinct, frequent = [], []
    for words in (500_000, 2_000_000):
        folder = tmp_path / str(words)
        common.write_growing_corpus(folder, words, words_per_file=300_000)
        counts = collections.Counter(word for path in folder.iterdir() for word in path.read_text().split())
        assert sum(counts.values()) == pytest.approx(words, rel=0.01)
        assert len(list(folder.glob("*.txt"))) == -(-words // 300_000)  # a folder of files, as a user has
        distinct.append(len(counts))
        frequent.append(sum(1 for n in counts.values() if n > 3))
    # Four times the text: more distinct words, and more seen often enough for a vocabulary
    # (plain repetition of the shared texts would give the same number of both).
    assert distinct[1] > 1.5 * distinct[0] and frequent[1] > 1.5 * frequent[0]


def test_the_memory_benchmark_watches_a_process_and_its_children(tmp_path):
    import subprocess

    from benchmarks.memory import phase_of, tree_anon_kib, tree_pids

    code = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'x = bytearray(64 << 20); import time; time.sleep(30)']); time.sleep(30)"
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        import time

        for _ in range(100):  # until the grandchild holds its 64 MiB
            if len(tree_pids(parent.pid)) == 2 and tree_anon_kib(parent.pid) > 64 << 10:
                break
            time.sleep(0.1)
        assert len(tree_pids(parent.pid)) == 2 and tree_anon_kib(parent.pid) > 64 << 10
    finally:
        for pid in tree_pids(parent.pid)[::-1]:
            subprocess.run(["kill", str(pid)], check=False)
        parent.wait()
    assert phase_of(tmp_path) == "read"
    write(tmp_path / ".cache" / "tokens-abc.json", "{}")
    assert phase_of(tmp_path) == "splits"
    write(tmp_path / "run" / "test_split.npz", "")
    assert phase_of(tmp_path) == "training"
