"""Hostile or clumsy input to every command, as a table: each row runs one command in
process and must end with the expected exit code, at most one line on stderr (exactly
one, naming the problem, when it fails; a warning about an empty file may precede
it), no traceback, and every file that existed
before unchanged.

Categories (see CATEGORIES): bad flag values, tampered or odd run folders, odd corpus
or --text files, odd text, and places a run cannot be written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import TINY_TEXT
from word_predictor import evaluate, generate, predict, rundir, runs, serve, train
from word_predictor.text.vocabulary import sha256_of

COMMANDS = {"train": train, "predict": predict, "generate": generate, "evaluate": evaluate, "runs": runs,
            "serve": serve}
USAGE, FAILURE, OK = 2, 1, 0
TINY = ["--units", "8", "--embedding-dim", "4", "--epochs", "1", "--batch-size", "16", "--unknown-threshold", "1"]


@dataclass(frozen=True)
class Case:
    category: str
    command: str
    argv: tuple[str, ...]  # "{root}" stands for the module's folder of odd files and runs
    code: int
    says: str = ""  # a piece of the one stderr line (when the command fails)


def flag(command: str, *argv: str, says: str = "") -> Case:
    """A bad flag value: refused while parsing (exit 2), the flag named."""
    base = {"train": ("--corpus", "{root}/corpus", "--logdir", "{root}/new-logs"),
            "predict": ("--run", "{root}/logs/good", "the cat"),
            "generate": ("--run", "{root}/logs/good", "the cat"),
            "evaluate": ("--run", "{root}/logs/good"), "serve": ("--run", "{root}/logs/good")}[command]  # fmt: skip
    return Case("flag value", command, (*base, *argv), USAGE, says or f"argument {argv[0]}")


def run_case(name: str, code: int = FAILURE, says: str = "", command: str = "predict", *extra: str) -> Case:
    """A damaged or odd run folder, given with --run."""
    tail = ("the cat",) if command in ("predict", "generate") else extra
    return Case("run folder", command, ("--run", f"{{root}}/logs/{name}", *tail), code, says)


CASES = {
    # ---- every numeric flag's bad values, refused while parsing
    "lr-nan": flag("train", "--learning-rate", "nan"),
    "lr-inf": flag("train", "--learning-rate", "inf"),
    "lr-zero": flag("train", "--learning-rate", "0"),
    "lr-negative": flag("train", "--learning-rate", "-1"),
    "validation-nan": flag("train", "--validation-fraction", "nan"),
    "test-fraction-one": flag("train", "--test-fraction", "1"),
    "clip-nan": flag("train", "--clip-norm", "nan"),
    "clip-negative": flag("train", "--clip-norm", "-1"),
    "patience-negative": flag("train", "--patience", "-1"),
    "log-every-negative": flag("train", "--log-every", "-1"),
    "dropout-one": flag("train", "--dropout", "1"),
    "dropout-negative": flag("train", "--dropout", "-0.1"),
    "units-zero": flag("train", "--units", "0"),
    "layers-zero": flag("train", "--layers", "0"),
    "epochs-zero": flag("train", "--epochs", "0"),
    "batch-zero": flag("train", "--batch-size", "0"),
    "window-zero": flag("train", "--window-size", "0"),
    "bptt-zero": flag("train", "--bptt", "0"),
    "embedding-zero": flag("train", "--embedding-dim", "0"),
    "units-fraction": flag("train", "--units", "1.5"),
    "unknown-threshold-negative": flag("train", "--unknown-threshold", "-1"),
    "max-vocabulary-negative": flag("train", "--max-vocabulary", "-1"),
    "time-limit-negative": flag("train", "--time-limit", "-1"),
    "time-limit-nan": flag("train", "--time-limit", "nan"),
    "seed-negative": flag("train", "--seed", "-1"),
    "fractions-leave-nothing": Case("flag value", "train", ("--corpus", "{root}/corpus", "--validation-fraction",
                                    "0.5", "--test-fraction", "0.45"), USAGE, "leave training text"),  # fmt: skip
    "predict-top-k-zero": flag("predict", "--top-k", "0"),
    "predict-top-k-nan": flag("predict", "--top-k", "nan"),
    "predict-words-zero": flag("predict", "--words", "0"),
    "generate-words-zero": flag("generate", "--words", "0"),
    "generate-temperature-negative": flag("generate", "--temperature", "-1"),
    "generate-top-p-zero": flag("generate", "--top-p", "0"),
    "generate-top-k-inf": flag("generate", "--top-k", "inf"),
    "evaluate-batch-zero": flag("evaluate", "--batch-size", "0"),
    "evaluate-batch-negative": flag("evaluate", "--batch-size", "-1"),
    "evaluate-batch-nan": flag("evaluate", "--batch-size", "nan"),
    "serve-batch-wait-huge": flag("serve", "--batch-wait-ms", "1e308"),  # every suggestion would wait for ever
    "serve-batch-wait-long": flag("serve", "--batch-wait-ms", "100000"),
    "serve-port-out-of-range": flag("serve", "--port", "70000"),
    "serve-head-seconds-zero": flag("serve", "--head-seconds", "0"),
    "serve-max-connections-zero": flag("serve", "--max-connections", "0"),
    "serve-allow-host-a-url": flag("serve", "--allow-host", "http://evil.example/"),
    "coordinator-not-an-address": flag("train", "--coordinator", "not an address", says="expected HOST:PORT"),
    "coordinator-port-out-of-range": flag("train", "--coordinator", "127.0.0.1:99999", says="from 1 to 65535"),
    "coordinator-colon": flag("train", "--coordinator", ":", says="expected HOST:PORT"),
    "coordinator-timeout-zero": flag("train", "--coordinator-timeout", "0"),
    # ---- tampered or odd run folders
    "run-missing": run_case("missing", says="does not exist"),
    "run-is-a-file": run_case("a-file", says="is a file"),
    "model-truncated": run_case("truncated-model", says="not a whole .keras file"),
    "config-a-list": run_case("config-list", says="not a word_predictor config"),
    "config-settings-a-string": run_case("config-settings", says="settings: Input should be a valid dictionary"),
    "vocabulary-wrong-shape-hash-matching": run_case("vocabulary-shape", says="not a JSON object but a list"),
    "status-garbage": run_case("status-garbage", says="status.json: not JSON"),
    "generate-model-truncated": run_case("truncated-model", says="not a whole .keras file", command="generate"),
    "evaluate-config-a-list": run_case("config-list", says="not a word_predictor config", command="evaluate"),
    "resume-a-file": Case("run folder", "train", ("--resume", "{root}/logs/a-file"), FAILURE, "not a run folder"),
    "resume-missing": Case("run folder", "train", ("--resume", "{root}/logs/missing"), FAILURE, "does not exist"),
    "newest-when-none": Case("run folder", "predict", ("--logdir", "{root}/corpus", "the cat"), FAILURE,
                             "no run found"),  # fmt: skip
    "runs-logdir-a-file": Case("run folder", "runs", ("--logdir", "{root}/logs/a-file"), FAILURE, "no folder"),
    # ---- odd corpus and --text files
    "corpus-fifo": Case("corpus file", "train", ("--corpus", "{root}/odd/fifo.txt", *TINY), FAILURE,
                        "--corpus {root}/odd/fifo.txt is not a regular file"),  # fmt: skip
    "corpus-folder-named-txt": Case("corpus file", "train", ("--corpus", "{root}/odd/folder.txt", *TINY), FAILURE,
                                    "no .txt files found"),  # fmt: skip
    "corpus-missing": Case("corpus file", "train", ("--corpus", "{root}/odd/missing.txt", *TINY), FAILURE,
                           "does not exist; pass --corpus"),  # fmt: skip
    "corpus-empty": Case("corpus file", "train", ("--corpus", "{root}/odd/empty.txt", *TINY), FAILURE),
    "corpus-only-punctuation": Case("corpus file", "train", ("--corpus", "{root}/odd/punctuation.txt", *TINY),
                                    FAILURE),  # fmt: skip
    "text-missing": Case("corpus file", "evaluate", ("--run", "{root}/logs/good", "--text", "{root}/missing.txt"),
                         FAILURE, "--text {root}/missing.txt does not exist; pass --text"),  # fmt: skip
    "text-fifo": Case("corpus file", "evaluate", ("--run", "{root}/logs/good", "--text", "{root}/odd/fifo.txt"),
                      FAILURE, "is not a regular file"),  # fmt: skip
    "text-folder-named-txt": Case("corpus file", "evaluate", ("--run", "{root}/logs/good", "--text",
                                  "{root}/odd/folder.txt"), FAILURE, "pass --text"),  # fmt: skip
    "text-invalid-utf8": Case("corpus file", "evaluate", ("--run", "{root}/logs/good", "--text",
                              "{root}/odd/latin1.txt"), FAILURE, "not valid UTF-8"),  # fmt: skip
    "text-empty": Case("corpus file", "evaluate", ("--run", "{root}/logs/good", "--text", "{root}/odd/empty.txt"),
                       FAILURE),  # fmt: skip
    # ---- odd text
    "predict-empty-text": Case("text", "predict", ("--run", "{root}/logs/good", ""), USAGE, "TEXT holds nothing to read"),
    "predict-only-punctuation": Case("text", "predict", ("--run", "{root}/logs/good", "?! … ,."), USAGE,
                                     "TEXT holds nothing to read"),  # fmt: skip
    # The rule evaluate --text follows: refused naming the line and byte, or read as asked, with a warning.
    "predict-input-invalid-utf8": Case("text", "predict", ("--run", "{root}/logs/good", "--input",
                                       "{root}/odd/latin1.txt"), FAILURE,
                                       "latin1.txt: line 1 is not valid UTF-8 at byte 8 (0xe9)"),  # fmt: skip
    "predict-input-invalid-utf8-replaced": Case("text", "predict", ("--run", "{root}/logs/good", "--input",
                                                "{root}/odd/latin1.txt", "--encoding-errors", "replace"), OK),
    "predict-input-megabyte-line": Case("text", "predict", ("--run", "{root}/logs/good", "--input",
                                        "{root}/odd/megabyte.txt"), OK),  # fmt: skip
    "predict-input-fifo-missing": Case("text", "predict", ("--run", "{root}/logs/good", "--input",
                                       "{root}/odd/missing.txt"), FAILURE, "cannot read --input"),  # fmt: skip
    "generate-only-punctuation": Case("text", "generate", ("--run", "{root}/logs/good", "--words", "3",
                                      "--seed", "1", "?!"), OK),  # fmt: skip
    # ---- where a run cannot be written
    "logdir-a-file": Case("logdir", "train", ("--corpus", "{root}/corpus", "--logdir", "{root}/logs/a-file", *TINY),
                          FAILURE, "is a file, not a folder"),  # fmt: skip
    "logdir-below-a-file": Case("logdir", "train", ("--corpus", "{root}/corpus", "--logdir",
                                "{root}/logs/a-file/logs", *TINY), FAILURE, "cannot create --logdir"),  # fmt: skip
    # sysfs refuses new folders even to root, as a read-only file system would.
    "logdir-refused": Case("logdir", "train", ("--corpus", "{root}/corpus", "--logdir", "/sys/word-predictor-logs",
                           *TINY), FAILURE, "cannot create --logdir"),  # fmt: skip
    "run-name-a-path": Case("logdir", "train", ("--corpus", "{root}/corpus", "--logdir", "{root}/new-logs",
                            "--run-name", "../x", *TINY), FAILURE, "not a plain folder name"),  # fmt: skip
}
CATEGORIES = sorted({(case.values[0] if hasattr(case, "values") else case).category for case in CASES.values()})


def _tampered(good: Path, name: str, change) -> None:
    run = Path(shutil.copytree(good, good.parent / name))
    change(run)


def _set_vocabulary_hash(run: Path) -> None:
    config = json.loads((run / rundir.CONFIG_FILE).read_text())
    config["vocabulary_sha256"] = sha256_of(run / rundir.VOCABULARY_FILE)
    (run / rundir.CONFIG_FILE).write_text(json.dumps(config))


def _truncate_model(run: Path) -> None:
    model = run / rundir.MODEL_FILE
    model.write_bytes(model.read_bytes()[:200])
    status = rundir.read_status(run)
    status["model_sha256"] = sha256_of(model)  # so the damage, not the hash, is what is caught
    rundir.write_json(run / rundir.STATUS_FILE, status)
    shutil.rmtree(run / "runtime")  # as a run of an older version: Keras, which reads the damaged file, answers


def _wrong_shape_vocabulary(run: Path) -> None:
    (run / rundir.VOCABULARY_FILE).write_text('["the", "cat"]')
    _set_vocabulary_hash(run)


@pytest.fixture(scope="module")
def root(trained_run, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    (root / "corpus").mkdir()
    (root / "corpus" / "a.txt").write_text(TINY_TEXT * 20, encoding="utf-8")
    good = Path(shutil.copytree(trained_run, root / "logs" / "good"))
    (root / "logs" / "a-file").write_text("not a run\n")
    _tampered(good, "truncated-model", _truncate_model)
    _tampered(good, "config-list", lambda run: (run / rundir.CONFIG_FILE).write_text("[]"))
    _tampered(good, "config-settings", lambda run: (run / rundir.CONFIG_FILE).write_text(
        json.dumps({**json.loads((run / rundir.CONFIG_FILE).read_text()), "settings": "lstm"})))  # fmt: skip
    _tampered(good, "vocabulary-shape", _wrong_shape_vocabulary)
    _tampered(good, "status-garbage", lambda run: (run / rundir.STATUS_FILE).write_bytes(b"\x00{garbage"))
    odd = root / "odd"
    odd.mkdir()
    os.mkfifo(odd / "fifo.txt")
    (odd / "folder.txt").mkdir()
    (odd / "empty.txt").write_text("")
    (odd / "punctuation.txt").write_text("?! ... , ; -- !!\n" * 500)
    (odd / "latin1.txt").write_bytes(("the caf\xe9 sat on the mat\n" * 3).encode("latin-1"))
    (odd / "megabyte.txt").write_text(("the cat sat on the mat " * 50_000)[: 1 << 20] + "\n")
    return root


def _hashes(root: Path) -> dict[str, str]:
    """Every regular file's content hash (a FIFO is never opened)."""
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file() and not path.is_symlink() and os.access(path, os.R_OK) and path.name != rundir.LOCK_FILE
    }


def _call(command: str, argv: list[str]) -> int:
    try:
        return COMMANDS[command].main(argv)
    except SystemExit as exit_:  # argparse refuses a flag by exiting
        return exit_.code


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_hostile_input(case: Case, root: Path, capsys):
    argv = [part.replace("{root}", str(root)) for part in case.argv]
    before = _hashes(root)
    capsys.readouterr()
    code = _call(case.command, argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    # A warning that names an empty file may come before the error that follows from it.
    lines = [line for line in err.splitlines() if not line.startswith("warning: ")]
    assert code == case.code, err
    if case.code == OK:
        assert len(lines) <= 1, err
    else:
        assert len(lines) == 1, err
        assert lines[0].startswith(f"word_predictor.{case.command}: error: "), lines[0]
        assert case.says.replace("{root}", str(root)) in lines[0]
    after = _hashes(root)
    assert {path: after.get(path) for path in before} == before, "a file that existed was changed or removed"


def test_the_table_covers_every_command_of_the_package():
    # The package's commands are its top-level modules with a main() (export has its own hostile
    # tests, tests/test_folder_files.py): a new command without a row here fails.
    package = Path(train.__file__).parent
    commands = {path.stem for path in package.glob("*.py") if "\ndef main(" in path.read_text(encoding="utf-8")}
    cases = [case.values[0] if hasattr(case, "values") else case for case in CASES.values()]
    assert {case.command for case in cases} == commands - {"export"}
    for category in ("corpus file", "flag value", "logdir", "run folder", "text"):
        assert sum(case.category == category for case in cases) >= 3, category
