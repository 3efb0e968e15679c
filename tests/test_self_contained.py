"""The repository stands on its own: nothing under it reads or points at a path outside it.

People clone the project from a public host where nothing lies beside the checkout, so a test, a doc
or the code that reaches for a sibling folder of the checkout works here and breaks there.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Text that names the folder the project was developed beside, or climbs out of the checkout.
OUTSIDE = re.compile(
    r"\.\./shared|/ \"shared\"|(?<![\w/.-])shared/(fixtures|design\.md|\w+-notes\.md)|/work/"
)
MARKDOWN_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


def tracked(*suffixes: str) -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, text=True
    ).stdout.split("\0")
    return [ROOT / name for name in names if name.endswith(suffixes) and (ROOT / name).is_file()]


def test_no_file_names_a_folder_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in tracked(
            ".py", ".md", ".toml", ".yml", ".yaml", ".json", ".js", ".sh", "Makefile", "run"
        )
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line) and path != Path(__file__).resolve()
    ]
    assert offenders == []


def test_every_relative_link_in_the_docs_resolves_inside_the_repository() -> None:
    broken = []
    for path in tracked(".md"):
        for target in MARKDOWN_LINK.findall(path.read_text()):
            if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                continue
            resolved = (path.parent / target).resolve()
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{path.relative_to(ROOT)} → {target}")
    assert broken == []


def _climb(node: ast.expr) -> int | None:
    """How many folders above its own file's folder a `Path(__file__)…` expression climbs."""
    levels = 0
    while True:
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            levels, node = levels + 1, node.value
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "parents"
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, int)
        ):
            levels, node = levels + node.slice.value + 1, node.value.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            node = node.func.value  # .resolve(), .absolute()
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            is_file = any(isinstance(a, ast.Name) and a.id == "__file__" for a in node.args)
            return levels if node.func.id == "Path" and is_file else None
        else:
            return None


def test_no_python_file_climbs_above_the_repository_from_its_own_path() -> None:
    climbs = []
    for path in tracked(".py"):
        depth = len(path.relative_to(ROOT).parts) - 1  # folders between the repository and the file
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute | ast.Subscript):
                levels = _climb(node)
                # `Path(__file__).parent` is the file's own folder (0 levels above it).
                if levels is not None and levels - 1 > depth:
                    climbs.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert sorted(set(climbs)) == []


@pytest.mark.parametrize(
    ("source", "outside"),
    [
        ("X = Path(__file__).resolve().parents[2] / 'shared'", True),
        ("X = Path(__file__).resolve().parents[1] / 'fixtures'", False),
        ("X = Path(__file__).resolve().parents[1].parent", True),
        ("X = Path(__file__).parent / 'fixtures'", False),
    ],
)
def test_the_climb_check_sees_a_path_out_of_tests(source: str, outside: bool) -> None:
    """A file in tests/ (depth 1): climbing two folders up leaves the repository."""
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.Assign)
    value = node.value
    expr = value.left if isinstance(value, ast.BinOp) else value
    levels = _climb(expr)
    assert levels is not None
    assert (levels - 1 > 1) is outside
