"""Every README command marked runnable runs as written.

A fenced block whose line before is `<!-- runnable -->` is run here, block after block in
the README's order, in one temporary folder holding a copy of `corpus/` (what a fresh
clone holds), so that `logs/` and `exported/` land there: the default training once, then
predict, complete, generate, evaluate, runs and the export on that one run. Shell lines run
in bash exactly as written, with `python` this interpreter; `pip install` lines are the
set-up this environment already has (a block that needs a requirements file's packages is
skipped where they are missing). A python block runs as a script. Each command must exit 0,
print no traceback, and print what the README says it prints.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARKER = "<!-- runnable -->"
BLOCK = re.compile(re.escape(MARKER) + r"\s*\n```(\w+)\n(.*?)```", re.S)
# what a requirements file a block installs brings, checked before the block runs
PACKAGES = {"requirements.txt": ["keras", "tensorflow"], "requirements-export.txt": ["onnx", "onnxruntime"]}
# what each command must print (a regular expression searched in stdout), first match wins
EXPECTED = [
    (r"word_predictor\.train\b", r"."),  # checked by the run folder it leaves, below
    (r"word_predictor\.predict .*--complete", r"words that start with 'ha':\n\s+1\. \S+\s+0\.\d+"),
    (r"word_predictor\.predict\b", r"\n\s+1\. \S+\s+0\.\d+[\s\S]*Prediction: "),
    (r"word_predictor\.generate\b", r"^the old man walked down to the( \S+){30}\s*$"),
    (r"word_predictor\.evaluate\b", r"perplexity"),
    (r"word_predictor\.runs\b", r"."),
    (r"word_predictor\.export\b", r""),
]


def runnable_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of each block marked runnable, in the README's order."""
    return BLOCK.findall(text)


def shell_lines(code: str) -> list[str]:
    """The commands of a shell block: continuation lines joined, blank lines left out."""
    return [line for line in code.replace("\\\n", " ").splitlines() if line.strip()]


def expected_output(command: str) -> str:
    for pattern, output in EXPECTED:
        if re.search(pattern, command):
            return output
    raise AssertionError(f"the README runs a command this test does not know what to expect of: {command}")


def test_the_readme_marks_the_five_things_runnable():
    commands = [line for language, code in runnable_blocks(README.read_text(encoding="utf-8"))
                if language in ("bash", "sh") for line in shell_lines(code)]  # fmt: skip
    for needed in ("word_predictor.train", "predict", "--complete", "generate", "evaluate", "export"):
        assert any(needed in command for command in commands), f"no runnable README command with {needed}"


def test_blocks_are_found_only_after_the_marker():
    text = f"```bash\nnot marked\n```\n{MARKER}\n```bash\nls \\\n  -l\n\necho hi\n```\n"
    [(language, code)] = runnable_blocks(text)
    assert language == "bash" and shell_lines(code) == ["ls    -l", "echo hi"]


def _environment(folder: Path) -> dict[str, str]:
    """`python` as this interpreter, word_predictor importable from the checkout."""
    shims = folder / ".bin"
    shims.mkdir()
    (shims / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (shims / "python").chmod(0o755)
    environment = dict(os.environ)
    environment["PATH"] = f"{shims}{os.pathsep}{environment.get('PATH', '')}"
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environment.get("PYTHONPATH")]))
    return environment


def _missing_packages(command: str) -> list[str]:
    wanted = next((PACKAGES.get(word, []) for word in command.split() if word in PACKAGES), [])
    return [name for name in wanted if importlib.util.find_spec(name) is None]


def _check_ran(done: subprocess.CompletedProcess, command: str) -> None:
    assert done.returncode == 0, f"{command}\nexit {done.returncode}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr, f"{command}\n{done.stderr[-3000:]}"
    assert re.search(expected_output(command), done.stdout, re.M), f"{command} printed:\n{done.stdout[-3000:]}"


def _complete_runs(folder: Path) -> list[Path]:
    logs = folder / "logs"
    statuses = [path / "status.json" for path in logs.iterdir()] if logs.is_dir() else []
    return [status.parent for status in statuses if status.is_file() and json.loads(status.read_text()).get("complete")]


@pytest.mark.slow
def test_every_runnable_readme_command_runs_as_written(tmp_path):
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    environment = _environment(tmp_path)
    for language, code in runnable_blocks(README.read_text(encoding="utf-8")):
        if language == "python":
            done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=environment, capture_output=True,
                                  text=True, timeout=300)  # fmt: skip
            assert done.returncode == 0 and "Traceback" not in done.stderr, f"{code}\n{done.stderr[-3000:]}"
            assert re.search(r"\('\S+', 0\.\d+", done.stdout), f"{code} printed:\n{done.stdout}"
            continue
        assert language in ("bash", "sh"), f"a runnable block in {language} cannot be run here"
        for command in shell_lines(code):
            if command.startswith("pip install"):
                missing = _missing_packages(command)
                if missing:
                    pytest.skip(f"`{command}` is not done here: {', '.join(missing)} missing")
                continue
            done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=environment, capture_output=True,
                                  text=True, timeout=900)  # fmt: skip
            _check_ran(done, command)
            if "word_predictor.train" in command:
                assert _complete_runs(tmp_path), f"{command} left no complete run under logs/"
            if "word_predictor.export" in command:
                assert (tmp_path / "exported" / "manifest.json").is_file()
