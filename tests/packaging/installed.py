"""The installed wheel and how to run its `incident-bot` the way a user would, outside the checkout."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from bot.settings import Settings

REPO = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO / "deploy" / "install.sh"

# Every variable the bot reads, and those Bolt reads behind our back: none may leak into a run.
_BOT_VARIABLES = {name.upper() for name in Settings.model_fields} | {
    "SLACK_VERIFICATION_TOKEN",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
}


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path

    @property
    def cli(self) -> Path:
        return self.venv / "bin" / "incident-bot"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


def clean_environment(**variables: str) -> dict[str, str]:
    """This process's environment without the bot's settings, Python's or a virtualenv's, plus
    `variables`: what a user's shell would hand to a freshly installed `incident-bot`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in _BOT_VARIABLES and not name.startswith("PYTHON") and name != "VIRTUAL_ENV"
    }
    env.update(variables)
    return env


async def run(
    program: Path, *args: str, cwd: Path, env: dict[str, str], timeout: float = 120
) -> Finished:
    """Run to completion without blocking the event loop (the stand-ins live in it)."""
    process = await asyncio.create_subprocess_exec(
        program,
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Finished(process.returncode, stdout.decode(), stderr.decode())
