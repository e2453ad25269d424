"""The package's layers point one way: a module never imports from a layer above its own (imports
inside functions count), only the train layer and the CLI's train commands import torch, and no
modules import each other in a cycle."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cfasim"

LAYERS = [
    ("cfasim.errors", "cfasim.cfa", "cfasim.figures", "cfasim.progress"),
    ("cfasim.isp",),
    ("cfasim.source",),
    ("cfasim.sim",),
    ("cfasim.sensor",),
    ("cfasim.store", "cfasim.viz"),
    ("cfasim.pipeline",),
    ("cfasim.data",),
    ("cfasim.eval",),
    ("cfasim.train",),
    ("cfasim.cli", "cfasim.testing"),
]
"""Lowest first (``cfasim.figures`` and ``cfasim.progress`` are matplotlib / tqdm helpers that
import nothing of cfasim). ``cfasim.viz`` draws the dataset card's preview, so it shares the
store's layer. ``cfasim`` itself (its ``__init__``) exposes the API lazily and may name
any layer; ``cfasim.testing`` serves the tests and sits at the top with the CLI."""

TORCH_ALLOWED = (
    "cfasim.train",
    "cfasim.cli.train",
    "cfasim.cli.evaluate",
    "cfasim.cli.weights",
    "cfasim.testing.fixtures",
)
"""Modules that may import torch (the CLI's and the test fixtures' only inside the functions
that need it: ``import cfasim.testing`` works without torch)."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path, name: str) -> set[str]:
    """Every module ``path`` imports, at any depth of its code (absolute names)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import module`
    return found


def layer_of(name: str) -> int | None:
    for i, prefixes in enumerate(LAYERS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return i
    return None


def internal_graph() -> dict[str, set[str]]:
    known = modules()
    return {
        name: {dep for dep in imports_of(path, name) if dep in known and dep != name}
        for name, path in known.items()
    }


def test_every_module_belongs_to_a_layer():
    orphans = [m for m in modules() if m != "cfasim" and layer_of(m) is None]
    assert not orphans, f"modules outside every layer: {orphans}"


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for name, deps in internal_graph().items():
        own = layer_of(name)
        if own is None:
            continue
        for dep in deps:
            theirs = layer_of(dep)
            if theirs is not None and theirs > own:
                upward.append(f"{name} imports {dep}")
    assert not upward, "imports from a higher layer:\n" + "\n".join(sorted(upward))


def test_only_the_train_layer_imports_torch():
    offenders = [
        name
        for name, path in modules().items()
        if any(d == "torch" or d.startswith("torch.") for d in imports_of(path, name))
        and not name.startswith(TORCH_ALLOWED)
    ]
    assert not offenders, f"torch imported outside cfasim.train: {offenders}"


def test_no_import_cycles():
    graph = internal_graph()
    # a package's __init__ importing its own modules is how packages work, not a cycle
    graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == "open":
                cycles.append(" -> ".join([*stack[stack.index(dep) :], dep]))
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize(
    "packages",
    [
        ["cfasim"],
        [
            m
            for m in sorted(modules())
            if not m.startswith(("cfasim.train", "cfasim.testing")) and not m.endswith("__main__")
        ],
    ],
    ids=["cfasim", "every-non-train-module"],
)
def test_importing_leaves_torch_out(packages):
    code = "import importlib, sys\n"
    code += "".join(f"importlib.import_module({m!r})\n" for m in packages)
    code += "sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_every_module_states_its_one_idea():
    """Each module opens with a docstring whose first line says what it is."""
    missing = [
        name
        for name, path in modules().items()
        if not (ast.get_docstring(ast.parse(path.read_text())) or "").strip().splitlines()
    ]
    assert not missing, f"modules without a docstring: {missing}"
