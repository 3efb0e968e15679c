"""The wheel, built once per session from a copy of the checkout and installed by deploy/install.sh
(what the container image runs) into a fresh virtualenv outside the checkout.

A session fixture is per process: under pytest-xdist (`make test` runs `--dist loadfile`) each test file
runs on one worker, so keep the tests of the `installed` wheel in test_wheel.py and it is built once.
(`--dist loadgroup` with an `xdist_group` would be finer, but pytest-xdist 3.8 ignores the groups on
pytest 9: pytest-dev/pytest-xdist#1386.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.packaging.installed import INSTALL_SCRIPT, REPO, Installed

# Left out of the copy the wheel is built from: what a fresh clone does not have.
_TOP_LEVEL_LEFTOVERS = {
    ".git",
    ".venv",
    "build",
    "dist",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
}
_LEFTOVERS = {"__pycache__", ".hypothesis"}


def _left_out(directory: str, names: Iterable[str]) -> set[str]:
    top = Path(directory) == REPO
    return {
        name
        for name in names
        if name in _LEFTOVERS
        or name.endswith((".egg-info", ".pyc"))
        or (top and (name in _TOP_LEVEL_LEFTOVERS or name.endswith((".db", ".db-shm", ".db-wal"))))
    }


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> None:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} exited {result.returncode}\n{result.stdout}{result.stderr}"
        )


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel from a clean copy (no stale build/ leftovers), then install it."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(REPO, source, ignore=_left_out)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}
    dist = root / "dist"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir"]
    _run([*build, str(dist), str(source)], cwd=root, env=env)
    (wheel,) = dist.glob("incident_bot-*.whl")
    # The script makes the virtualenv with the interpreter running the tests (a venv made from a
    # venv's python is based on the base interpreter: nothing of the dev .venv is visible in it).
    venv = root / "venv"
    _run(
        ["sh", str(INSTALL_SCRIPT), str(dist), str(venv)],
        cwd=root,
        env={**env, "PYTHON": sys.executable},
    )
    return Installed(wheel, venv)
