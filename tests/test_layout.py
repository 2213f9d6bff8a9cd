"""The package's imports run one way: down the data path, commands on top, no circle.

Each module is placed by its first name under word_predictor/ (a folder or a top-level
module). A module may import from its own layer or the layers below it, never above;
no library module imports a command; and no chain of imports leads back to where it
started. Imports inside functions count too: they are imports all the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "word_predictor"

# Lowest first. The commands parse flags, call the library, map its errors to exit codes.
LAYERS = [
    {"errors", "config", "backend", "folder_files"},  # folder_files: the schemas of the folders' JSON files
    {"text"},  # text -> tokens and a vocabulary
    {"corpus"},  # files -> token store -> splits
    {"scoring"},  # logits -> figures, NumPy only
    {"model"},  # config -> Keras model
    {"batches"},  # splits -> window batches or lanes, and the readers
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
    return module.split(".")[1] if "." in module else ""


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
