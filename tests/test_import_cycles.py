"""No import cycles: every `import` counts, also under `if TYPE_CHECKING:` and inside functions.

The graph spans every module of the first-party packages (so a cycle through another package is
seen too); each package listed in PACKAGES must take part in none. An edge is what a statement
names: `from a.b import c` is a.b.c when that is a module, else a.b; the parent packages Python
loads on the way (a, a.b) are not counted, or every re-exporting `__init__` would be a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALL_PACKAGES = ["bot", "sandbox", "servicenow", "storage"]
PACKAGES = ALL_PACKAGES  # every first-party package is held to it

Graph = dict[str, set[str]]


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> Iterable[str]:
    """Every dotted name one import statement may load (a module, or `package.name`)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        anchor = module.split(".")
        anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
        base = ".".join([*anchor, base] if base else anchor)
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def import_graph(root: Path, packages: Iterable[str]) -> Graph:
    """Module -> the first-party modules it imports, anywhere in its source."""
    sources = {
        module_name(root, path): path
        for package in packages
        for path in sorted((root / package).rglob("*.py"))
    }
    graph: Graph = {}
    for module, path in sources.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            names = list(imported(node, module, is_package))
            if isinstance(node, ast.ImportFrom):
                # `from a.b import c`: the submodule a.b.c if there is one, else a.b itself
                base, members = names[0], names[1:]
                submodules = [name for name in members if name in sources]
                edges.update(submodules)
                if len(submodules) < len(members) and base in sources:
                    edges.add(base)
            else:
                edges.update(name for name in names if name in sources)
        edges.discard(module)
        graph[module] = edges
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """Cycles (first module repeated at the end) that between them pass through every module of
    every strongly connected group: the shortest one through each module, without repeats."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    found: list[list[str]] = []
    for group in sorted(groups):
        for start in group:
            loop = shortest_cycle(graph, start, set(group))[:-1]
            first = loop.index(min(loop))
            cycle = [*loop[first:], *loop[:first], loop[first]]  # from its smallest module
            if cycle not in found:
                found.append(cycle)
    return found


def shortest_cycle(graph: Graph, start: str, members: set[str]) -> list[str]:
    paths = {target: [start, target] for target in graph[start] if target in members}
    frontier = list(paths)
    while start not in paths:
        following: list[str] = []
        for node in frontier:
            for target in sorted(graph[node] & members):
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    return paths[start]


@pytest.mark.parametrize("package", PACKAGES)
def test_package_takes_part_in_no_import_cycle(package: str) -> None:
    graph = import_graph(ROOT, ALL_PACKAGES)
    found = [
        " -> ".join(cycle)
        for cycle in cycles(graph)
        if any(module.partition(".")[0] == package for module in cycle)
    ]
    assert not found, "import cycles:\n" + "\n".join(found)


def test_imports_under_type_checking_and_inside_functions_count(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n"
    )
    (package / "b.py").write_text("def load() -> None:\n    from . import c\n")
    (package / "c.py").write_text("import pkg.a\n")
    (package / "d.py").write_text("from pkg import a\n")

    assert cycles(import_graph(tmp_path, ["pkg"])) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]
