"""What several test files share: a tiny corpus and trained runs (tiny_run), refusals read back, event files
read back, and a Predictor on a scripted reader. Fixtures live in conftest.py and use these."""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

import numpy as np
from hypothesis import strategies
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

from word_predictor import rundir, train
from word_predictor.backend import keras
from word_predictor.batches.windows import WindowBatches
from word_predictor.config import Config, CorpusFacts, load_config
from word_predictor.corpus.splits import Split
from word_predictor.model.factory import build_model
from word_predictor.model.compile import compile_model
from word_predictor.predictor.predictor import Predictor
from word_predictor.text.vocabulary import Vocabulary


REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# A word as normalisation leaves it: letters, apostrophes and inner hyphens.
NORMALISED_WORD = strategies.text(alphabet="abcdefghijklmnopqrstuvwxyz'-", min_size=1, max_size=8).filter(lambda w: w[0] != "-")


# ---------------------------------------------------------------- a tiny corpus, trained

# A few sentences of our own, repeated so every word clears a small unknown threshold.
TINY_TEXT = (
    "the cat sat on the mat and the dog sat on the rug . "
    "some of them look like a cat and some of them look like a dog . "
    "the bird sang in the tree and the cat looked at the bird . "
)


TINY_FLAGS = ["--units", "8", "--embedding-dim", "4", "--epochs", "2", "--batch-size", "16",
              "--unknown-threshold", "1", "--log-every", "5"]  # fmt: skip


def train_tiny(corpus: Path, logdir: Path, *extra: str) -> int:
    return train.main(["--corpus", str(corpus), "--logdir", str(logdir), *TINY_FLAGS, *extra])


# (session's base folder, logdir, run name, flags) -> the run folder; (base, logdir) -> the text it reads
_TRAINED_RUNS: dict[tuple, Path] = {}
_LOGDIR_TEXTS: dict[tuple, str] = {}


def tiny_run(tmp_path_factory, *flags: str, name: str = "tiny", logdir: str = "trained", text: str = TINY_TEXT * 20) -> Path:
    """A tiny run trained with TINY_FLAGS and `flags` on a corpus of one file holding `text`,
    once per session for each (logdir, name, flags), and shared read-only by the tests that ask.

    Runs asked for under one `logdir` are trained side by side in one logs folder (so they
    share its token cache and show together in `runs` and TensorBoard), in the order asked.
    """
    base = tmp_path_factory.getbasetemp()
    key = (base, logdir, name, flags)
    if key in _TRAINED_RUNS:
        return _TRAINED_RUNS[key]
    root = base / f"runs-{logdir}"
    if (base, logdir) not in _LOGDIR_TEXTS:
        write(root / "corpus" / "a.txt", text)
        _LOGDIR_TEXTS[(base, logdir)] = text
    assert _LOGDIR_TEXTS[(base, logdir)] == text, f"the runs in {logdir!r} read one corpus"
    assert train_tiny(root / "corpus", root / "logs", "--run-name", name, *flags) == 0
    _TRAINED_RUNS[key] = root / "logs" / name
    return _TRAINED_RUNS[key]


# ---------------------------------------------------------------- event files read back

EPOCH_TAGS = ("epoch_loss", "epoch_perplexity", "epoch_accuracy", "epoch_top5_accuracy")


def events(folder) -> EventAccumulator:
    accumulator = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    accumulator.Reload()
    return accumulator


def values(folder, tag) -> list[tuple[int, float | str]]:
    """(step, value) of one tag: floats for scalars, text for text summaries; [] if absent."""
    accumulator = events(folder)
    if tag not in accumulator.Tags()["tensors"]:
        return []
    result = []
    for event in accumulator.Tensors(tag):
        array = tensor_util.make_ndarray(event.tensor_proto)
        result.append((event.step, array.item().decode() if array.dtype == object else float(array)))
    return result


def plugin_tags(folder, plugin: str) -> set[str]:
    accumulator = events(folder)
    return {
        tag for tag in accumulator.Tags()["tensors"]
        if accumulator.SummaryMetadata(tag).plugin_data.plugin_name == plugin
    }  # fmt: skip


def saved_config(run_dir) -> Config:
    return load_config(run_dir / rundir.CONFIG_FILE)[0]


def tiny_model(**settings) -> keras.Model:
    config = Config(units=6, embedding_dim=3, window_size=4, dropout=0.0, **settings)
    model = build_model(config, CorpusFacts(vocabulary_size=15), "training")
    compile_model(model, config)
    return model


def table_rows(markdown: str) -> tuple[str, list[tuple[str, list[tuple[str, float]]]]]:
    """The label and the rows of one samples table."""
    label, _, table = markdown.partition("\n\n")
    lines = table.splitlines()
    lines = lines[: lines.index("") if "" in lines else len(lines)]  # the table, not what follows it
    assert lines[:2] == ["| context | top next words |", "|---|---|"]
    rows = []
    for line in lines[2:]:
        context, shown = (cell.strip() for cell in line.strip("|").split("|"))
        rows.append((context, [(w, float(p)) for w, p in re.findall(r"(\S+) \((\d\.\d{3})\)", shown)]))
    return label, rows


# ---------------------------------------------------------------- tiny models, batches and files

VOCABULARY = 10
FACTS = CorpusFacts(vocabulary_size=VOCABULARY)  # what a tiny model takes from a corpus


def tiny_config(**overrides) -> Config:
    settings = dict(units=2, embedding_dim=3, window_size=4, dropout=0.1)
    return Config(**(settings | overrides))


def tiny_batches(config: Config, last_only=False):
    ids = np.random.default_rng(0).integers(0, VOCABULARY, 64).astype(np.int32)
    return WindowBatches(Split.from_lengths(ids, [64]), window_size=config.window_size, batch_size=8,
                         targets=config.targets, shuffle=False, last_only=last_only)  # fmt: skip


def write(path, text):
    """Write `text` as UTF-8 at `path`, making its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- refusals read back


def one_line(err: str, prog: str) -> str:
    """The single line a failed command printed on stderr."""
    assert "Traceback" not in err
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"word_predictor.{prog}: error: "), lines[0]
    return lines[0]


def copy_run(run: Path, tmp_path: Path, name: str = "copy") -> Path:
    logdir = tmp_path / "logs"
    logdir.mkdir(exist_ok=True)
    return Path(shutil.copytree(run, logdir / name))


def set_status(run: Path, **fields) -> None:
    rundir.write_json(run / rundir.STATUS_FILE, {**rundir.read_status(run), **fields})


def train_flags(corpus_path: Path, logdir: Path, *extra: str) -> list[str]:
    return ["--corpus", str(corpus_path), "--logdir", str(logdir), "--units", "8", "--embedding-dim", "4",
            "--epochs", "2", "--batch-size", "16", "--unknown-threshold", "1", *extra]  # fmt: skip


def write_corpus(tmp_path: Path, files: dict[str, bytes | str]) -> Path:
    folder = tmp_path / "corpus"
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
    folder.mkdir(exist_ok=True)
    return folder


def refused_corpus(tmp_path: Path, capsys, corpus_path: Path, *extra: str) -> str:
    """Train on a bad corpus: exit 1, one line, and no run folder left behind."""
    logdir = tmp_path / "logs"
    assert train.main(train_flags(corpus_path, logdir, "--run-name", "bad", *extra)) == 1
    err = capsys.readouterr().err
    assert not (logdir / "bad").exists()
    errors = [line for line in err.splitlines() if not line.startswith("warning: ")]
    return one_line("\n".join(errors), "train")


# ---------------------------------------------------------------- a Predictor on a scripted reader

TOKENS = ("<unk>", "the", "cat", "sat", "on", "mat", "can")
COUNTS = (0, 40, 20, 10, 10, 5, 15)


class BigramReader:
    """A reader whose logits after a context depend on its last id only: row `last` of `table`.

    Records the contexts each `start` receives, to show what the Predictor batches.
    """

    def __init__(self, table: np.ndarray):
        self.table = np.asarray(table, np.float32)
        self.started: list[list[list[int]]] = []

    def start(self, contexts):
        self.started.append([np.asarray(c).tolist() for c in contexts])
        last = np.array([int(c[-1]) for c in contexts])
        return self.table[last], last

    def advance(self, state, next_ids):
        return self.table[next_ids], np.asarray(next_ids)


def scripted(table=None) -> Predictor:
    vocabulary = Vocabulary(tokens=TOKENS, counts=COUNTS, unknown_threshold=0)
    if table is None:  # every next token about as likely; a little more for the next id
        table = np.zeros((len(TOKENS), len(TOKENS)))
        table[np.arange(len(TOKENS)), (np.arange(len(TOKENS)) % (len(TOKENS) - 1)) + 1] = 0.5
    return Predictor(BigramReader(table), Config(), vocabulary)


def chain_table() -> np.ndarray:
    """the -> cat -> sat -> on -> the ...; mat and can after nothing in particular."""
    table = np.zeros((len(TOKENS), len(TOKENS)))
    for a, b in [("the", "cat"), ("cat", "sat"), ("sat", "on"), ("on", "the"), ("mat", "the"), ("can", "the")]:
        table[TOKENS.index(a), TOKENS.index(b)] = 4.0
    return table


# ---------------------------------------------------------------- --help read back


def help_beside_each_flag(parser: argparse.ArgumentParser, printed: str) -> dict[str, tuple[str, str]]:
    """{flag: (its help text, what --help printed in its entry)} for every flag but --help,
    whitespace removed from both (argparse wraps lines, and breaks words at hyphens)."""
    entries: dict[str, str] = {}
    flag = None
    for line in printed.splitlines():
        opening = re.match(r"^  (-[-\w]+|[A-Z_]+)", line)
        if opening:
            flag = opening.group(1)
            entries[flag] = line[opening.end():]
        elif flag and line.startswith("   "):  # the entry's help, continued
            entries[flag] += line
        else:
            flag = None
    result = {}
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue  # a flag left out of --help on purpose (an old name)
        name = action.option_strings[0] if action.option_strings else (action.metavar or action.dest)
        wanted = (action.help or "") % {**vars(action), "prog": parser.prog}
        result[name] = ("".join(wanted.split()), "".join(entries.get(name, "").split()))
    return result
