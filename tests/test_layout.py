"""The package's imports run one way: down the data path, commands on top, no circle.

Each module is placed by its first name under word_predictor/ (a folder or a top-level
module). A module may import from its own layer or the layers below it, never above;
no library module imports a command; and no chain of imports leads back to where it
started. Imports inside functions count too: they are imports all the same.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "word_predictor"

# Lowest first. The commands parse flags, call the library, map its errors to exit codes.
LAYERS = [
    # folder_files: the schemas of the folders' JSON files; batches.kinds: what each context answers without
    # Keras, asked by the settings, the model and the runtime
    {"errors", "config", "backend", "folder_files", "batches.kinds"},
    {"text"},  # text -> tokens and a vocabulary
    {"corpus"},  # files -> token store -> splits
    {"scoring"},  # logits -> figures, NumPy only
    {"model"},  # config -> Keras model
    {"batches"},  # splits -> window batches or lanes, and the readers
    {"adaptation"},  # a model that learns while it reads: the cache, dynamic evaluation
    {"rundir"},  # the run folder
    {"predictor"},  # a run ready to answer
    # run -> ONNX and the other formats; ONNX answered without Keras; which of the two answers a folder
    {"exporter", "runtime", "engines"},
    {"monitoring"},  # TensorBoard
    {"training"},  # fit, validate, checkpoint, resume; its end writes the run's ONNX model (exporter)
    {"server"},
]
COMMANDS = {"cli", "train", "predict", "generate", "evaluate", "runs", "export", "serve"}
# Runtime code must work without Keras, so these never import it, directly or through another module.
WITHOUT_KERAS = {"text", "scoring", "predictor", "runtime"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The word_predictor modules `path` imports: `from x import y` counts y when y is a module
    (a sibling's name, not its folder's face), else x."""
    found = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            submodules = {f"{base}.{alias.name}" for alias in node.names} & modules
            found.update(submodules or {base})
    return {name for name in found if name == "word_predictor" or name.startswith("word_predictor.")}


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in imports_of(path, set(modules)) if m in modules and m != name}
            for name, path in modules.items()}  # fmt: skip


def part(module: str) -> str:
    """The name a module is placed by: its first name under word_predictor/, or the module
    itself where a layer names it alone (batches.kinds)."""
    names = module.split(".")[1:]
    if ".".join(names[:2]) in set().union(*LAYERS):
        return ".".join(names[:2])
    return names[0] if names else ""


def layer(module: str) -> int:
    name = part(module)
    if name in COMMANDS:
        return len(LAYERS)
    for number, names in enumerate(LAYERS):
        if name in names:
            return number
    raise AssertionError(f"{module} is in no layer of tests/test_layout.py; place it there")


def test_every_module_has_a_layer():
    for module in graph():
        if module != "word_predictor":
            layer(module)


def test_no_module_imports_from_a_higher_layer_or_a_command():
    upward = []
    for module, imported in graph().items():
        if module == "word_predictor":
            continue
        for target in imported:
            if target == "word_predictor":
                continue
            if layer(target) > layer(module):
                upward.append(f"{module} -> {target}")
    assert upward == []


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_imports_hold_no_circle():
    edges = {m: {t for t in targets if t != "word_predictor"} for m, targets in graph().items()}
    assert find_cycle(edges) is None


def test_the_cycle_finder_finds_a_circle_and_passes_a_line():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.parametrize("folder", sorted(WITHOUT_KERAS))
def test_runtime_folders_never_import_keras(folder):
    for path in (PACKAGE / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            bad = [n for n in names if n.split(".")[0] in ("keras", "tensorflow", "jax", "torch")
                   or n in ("word_predictor.backend.keras",)]  # fmt: skip
            assert not bad, f"{path.relative_to(PACKAGE)} imports {bad[0]}"



def test_no_library_module_is_longer_than_300_lines():
    long = {
        module_name(p): n
        for p in PACKAGE.rglob("*.py")
        if part(module_name(p)) not in COMMANDS and (n := len(p.read_text(encoding="utf-8").splitlines())) > 300
    }
    assert long == {}


def test_no_library_function_is_longer_than_60_lines():
    # From `def` to its last line, docstring included: a function that needs more is two jobs.
    long = {
        f"{module_name(p)}.{node.name}": node.end_lineno - node.lineno + 1
        for p in PACKAGE.rglob("*.py")
        if part(module_name(p)) not in COMMANDS
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60
    }
    assert long == {}


# A comparison of a run's context with a name, or a membership test on it: a rule the
# context should answer itself (batches.kinds.ContextKind), written where it is asked.
CONTEXT_COMPARED = re.compile(
    r"\bcontext\b[\"']?\]?\s*(==|!=)"  # config.context == ..., manifest["context"] != ...
    r"|\bcontext\b[\"']?\]?\s+(not\s+)?in\s+[(\[{\"'A-Z]"  # ... in ("window", ...), ... not in CHOICES
    r"|(==|!=)\s*[\"'](window|full)[\"']"  # kind == "full"
)


def context_comparisons(text: str) -> list[int]:
    """The numbers of the lines of `text` that compare a context (comments left out)."""
    return [number for number, line in enumerate(text.splitlines(), 1) if CONTEXT_COMPARED.search(line.split("#")[0])]


def test_only_batches_compares_a_runs_context():
    compared = [f"{path.relative_to(PACKAGE)}:{number}" for path in PACKAGE.rglob("*.py")
                if part(module_name(path)) not in ("batches", "batches.kinds")
                for number in context_comparisons(path.read_text(encoding="utf-8"))]  # fmt: skip
    assert compared == [], "ask the context (batches.kinds.kind_of(config), or the run's context) instead"


@pytest.mark.parametrize("line", ['if config.context == "full":', "x = self.config.context != 'window'",
                                  'if config.context in ("window",):', 'if manifest["context"] == "window":',
                                  "if context not in CHOICES:", 'elif kind == "full":'])  # fmt: skip
def test_the_context_check_finds_each_way_of_comparing(line):
    assert context_comparisons(f"x = 1\n{line}\n") == [2]
    assert context_comparisons(f"context_length = 3  # not: {line}\n") == []
    assert context_comparisons("rows = [i for i, context in enumerate(contexts) if context]\n") == []


def private_imports(text: str) -> list[str]:
    """`from word_predictor.x import _name`: a name its module keeps to itself, used elsewhere."""
    return [f"{node.module}.{alias.name}" for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("word_predictor"))
            for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")]  # fmt: skip


def test_no_module_imports_another_modules_private_name():
    found = [f"{path.relative_to(PACKAGE)}: {name}" for path in PACKAGE.rglob("*.py")
             for name in private_imports(path.read_text(encoding="utf-8"))]  # fmt: skip
    assert found == [], "make the name public (no leading underscore) where another module uses it"


def test_the_private_import_check_finds_one():
    text = "import os\nfrom word_predictor.text.rules import _hidden, public\nfrom os import _exit\n"
    assert private_imports(text) == ["word_predictor.text.rules._hidden"]
