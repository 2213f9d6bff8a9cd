"""The export page's ten-line example (docs/export.md, "With onnxruntime alone"): an exported
folder read with onnxruntime alone (word_predictor, Keras, TensorFlow and JAX unimportable)
prints the runtime's own top-5 next words."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnx", reason="the export extra (pip install -e .[export]) is not installed")
pytest.importorskip("onnxruntime", reason="the runtime extra (pip install -e .[runtime]) is not installed")

from tests.runtime.folders import import_blocker, make_folder  # noqa: E402
from word_predictor.runtime import load  # noqa: E402

pytestmark = pytest.mark.runtime
EXPORT_PAGE = Path(__file__).resolve().parents[2] / "docs" / "export.md"

BLOCKER = import_blocker(("word_predictor", "keras", "tensorflow", "jax", "torch"), why="the example must not need it")


def readme_example() -> str:
    section = (
        EXPORT_PAGE.read_text(encoding="utf-8")
        .split("## With onnxruntime alone", 1)[1]
        .split("\n## ", 1)[0]
    )
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    [example] = [block for block in blocks if "onnxruntime.InferenceSession" in block]
    return example


def test_the_readme_example_is_ten_lines_and_prints_the_runtime_s_next_words(tmp_path):
    example = readme_example()
    assert len(example.strip().splitlines()) <= 10
    folder = make_folder(tmp_path / "exported")
    done = subprocess.run([sys.executable, "-c", BLOCKER + example], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = [word for word, _ in load(folder).suggest("some of them looks like").predictions]
    assert ast.literal_eval(done.stdout.strip()) == expected
