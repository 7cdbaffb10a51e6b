"""The package's imports follow its data flow: no module imports one from a later stage, and module-level
imports form no circle (checked by parsing every module's import statements)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "preimage"
# the data flow, bottom to top: a module may import from its own stage and the ones before it
FLOW = [
    "errors", "files", "runtime", "registry", "options", "zoo", "data", "models", "representations", "metrics",
    "inverters", "training", "evaluation", "report", "experiments", "explore", "cli",
]  # fmt: skip


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        name = ".".join(("preimage", *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__")
        found[name] = path
    return found


def _imports(path: Path, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "preimage":
            out |= {f"{node.module}.{a.name}" if node.module == "preimage" else node.module for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "preimage"}
    return out


def _stage(module: str) -> int | None:
    parts = module.split(".")
    return FLOW.index(parts[1]) if len(parts) > 1 and parts[1] in FLOW else None


def test_no_import_points_up_the_flow() -> None:
    upward = sorted(
        (name, target)
        for name, path in _modules().items()
        for target in _imports(path, top_level_only=False)
        if _stage(name) is not None and _stage(target) is not None and _stage(target) > _stage(name)  # type: ignore[operator]
    )
    assert upward == []


def test_module_level_imports_form_no_circle() -> None:
    modules = _modules()

    def resolve(target: str) -> str | None:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target or None

    graph = {
        n: {r for t in _imports(p, top_level_only=True) if (r := resolve(t)) and r != n} for n, p in modules.items()
    }
    # a package's __init__ importing its own submodules is how Python packages are built, not a circle
    for name in graph:
        graph[name] = {t for t in graph[name] if not t.startswith(name + ".")}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle.extend([*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt])
                return True
            if nxt not in state and visit(nxt, [*path, nxt]):
                return True
        state[node] = 2
        return False

    for start in sorted(graph):
        if start not in state and visit(start, [start]):
            break
    assert cycle == [], " -> ".join(cycle)
