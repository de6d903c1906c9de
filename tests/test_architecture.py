"""The shape of the code: no import circles, the core imports no framework, registries are the extension points."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("raqo_core", "raqo_haystack", "raqo_llamaindex", "haystack_integrations")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            parts = list(f.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = f
    return out


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """Every project module ``path`` imports, at module level or inside functions (not under TYPE_CHECKING)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for n in child.orelse:
                    visit(n)
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                for a in child.names:  # `from pkg import submodule` names the submodule
                    sub = f"{child.module}.{a.name}"
                    found.add(sub if sub in modules else child.module)
            visit(child)

    visit(ast.parse(path.read_text()))
    return {m for m in found if m in modules and m != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, name, modules) for name, path in modules.items()}


def test_no_import_circles(graph):
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_core_imports_no_framework():
    for f in (ROOT / "raqo_core").rglob("*.py"):
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for n in names:
                assert not n.startswith(("haystack", "llama_index", "raqo_haystack", "raqo_llamaindex")), f"{f}: imports {n}"


def test_the_cli_modules_hold_no_core_logic():
    """Each command module parses and dispatches: no module-level code beyond imports, constants and functions."""
    for f in (ROOT / "raqo_core" / "cli").glob("*.py"):
        for node in ast.parse(f.read_text()).body:
            assert isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.Assign | ast.Expr | ast.If), (
                f"{f.name}: {ast.dump(node)[:80]}"
            )
            if isinstance(node, ast.FunctionDef):
                assert len(node.body) < 40, f"{f.name}:{node.name} is {len(node.body)} statements; move the logic into the core"


def test_the_docs_say_what_users_must_know():
    """Doc checks: telemetry is documented, not switched off behind the user's back; image paths are confined."""
    haystack = (ROOT / "docs" / "haystack.md").read_text()
    assert "HAYSTACK_TELEMETRY_ENABLED=False" in haystack
    for f in (ROOT / "raqo_core").rglob("*.py"):
        assert "HAYSTACK_TELEMETRY_ENABLED" not in f.read_text(), f  # the library leaves the user's setting alone
    assert "RAQO_ALLOW_ANY_IMAGE_PATH" in (ROOT / "docs" / "embedded-benchmark.md").read_text()
