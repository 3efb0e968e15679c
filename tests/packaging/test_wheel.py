"""The built wheel, pip-installed into a fresh virtualenv by deploy/install.sh, works on its own:
`migrate`, `business-rule`, `check` and `serve` run from a folder outside the checkout, with
nothing but their package (migrations and the Business Rule are package data) and the environment."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory

from sandbox.servicenow import Emulator, run_emulator
from sandbox.servicenow.faults import Fault
from sandbox.slack import SlackStandIn, run_slack
from sandbox.stack import BOT_TOKEN, SERVICENOW_PASSWORD, SERVICENOW_USER, SIGNING_SECRET
from servicenow.webhook import business_rule_script
from storage.db import alembic_config
from storage.models import Base
from tests.packaging.dockerfile import instructions
from tests.packaging.installed import INSTALL_SCRIPT, REPO, Installed, clean_environment, run
from tests.support import eventually

pytestmark = pytest.mark.packaging

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


@dataclass
class StandIns:
    emulator: Emulator
    settings: dict[str, str]  # the bot's environment to reach them


@contextlib.asynccontextmanager
async def stand_ins() -> AsyncIterator[StandIns]:
    """The Slack stand-in and the ServiceNow emulator on loopback."""
    async with (
        run_emulator(Emulator()) as emulator,
        run_slack(SlackStandIn(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)) as slack,
    ):
        yield StandIns(
            emulator,
            {
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": f"{slack.url}/api/",
                "SERVICENOW_INSTANCE_URL": emulator.instance_url,
                "SERVICENOW_USERNAME": SERVICENOW_USER,
                "SERVICENOW_PASSWORD": SERVICENOW_PASSWORD,
                "SERVICENOW_POLL_SECONDS": "0",
            },
        )


_LISTENING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")


@contextlib.asynccontextmanager
async def serving(installed: Installed, cwd: Path, env: dict[str, str]) -> AsyncIterator[str]:
    """`incident-bot serve` in the background; yields its URL once it says it listens (PORT=0: the
    kernel picks the port, the log tells it). Stopped with SIGTERM, which it must obey cleanly."""
    process = await asyncio.create_subprocess_exec(
        installed.cli,
        "serve",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    log: list[str] = []

    async def listening() -> str:
        assert process.stderr is not None
        while line := (await process.stderr.readline()).decode():
            log.append(line)
            if found := _LISTENING.search(line):
                return found.group(1)
        raise AssertionError("serve exited before listening:\n" + "".join(log))

    async def drain() -> None:
        assert process.stderr is not None
        while line := (await process.stderr.readline()).decode():
            log.append(line)

    try:
        url = await asyncio.wait_for(listening(), 60)
        reader = asyncio.create_task(drain())
        yield url
        process.terminate()
        returncode = await asyncio.wait_for(process.wait(), 30)
        await reader
        # uvicorn shuts down gracefully, then re-raises the signal so the exit says what ended it.
        assert returncode in (0, -signal.SIGTERM), "".join(log)
        assert "Application shutdown complete." in "".join(log)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_install_script_wants_one_wheel(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    env = clean_environment()
    for where in ("empty", "missing.whl"):
        done = await run(Path("/bin/sh"), str(INSTALL_SCRIPT), where, "venv", cwd=tmp_path, env=env)
        assert done.returncode == 2, done
        assert done.stderr.startswith("install.sh: "), done
    assert not (tmp_path / "venv").exists()


async def test_the_installed_package_is_the_wheel_not_the_checkout(
    installed: Installed, tmp_path: Path
) -> None:
    code = "import bot, servicenow, storage, sandbox; print(bot.__file__, servicenow.__file__, storage.__file__, sandbox.__file__)"
    done = await run(installed.python, "-c", code, cwd=tmp_path, env=clean_environment())
    assert done.returncode == 0, done
    files = [Path(name) for name in done.stdout.split()]
    assert len(files) == 4
    assert all(installed.venv in file.parents and REPO not in file.parents for file in files)


async def test_business_rule_prints_the_packaged_script(
    installed: Installed, tmp_path: Path
) -> None:
    done = await run(installed.cli, "business-rule", cwd=tmp_path, env=clean_environment())
    assert done.returncode == 0, done
    assert business_rule_script().strip() in done.stdout


async def test_migrate_creates_the_default_sqlite_database_in_the_working_folder(
    installed: Installed, tmp_path: Path
) -> None:
    env = clean_environment(SERVICENOW_INSTANCE_URL="https://dev12345.service-now.com")
    done = await run(installed.cli, "migrate", cwd=tmp_path, env=env)
    assert done.returncode == 0, done
    assert done.stdout.strip() == f"incident-bot: database at revision {HEAD}"
    with contextlib.closing(sqlite3.connect(tmp_path / "incident-bot.db")) as db:
        (revision,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert revision == HEAD
    assert set(Base.metadata.tables) <= tables, tables


@pytest.mark.postgres
async def test_migrate_brings_a_postgresql_database_to_the_newest_revision(
    installed: Installed, tmp_path: Path
) -> None:
    from tests.conftest import isolated_postgres_url

    async with isolated_postgres_url() as url:
        env = clean_environment(
            SERVICENOW_INSTANCE_URL="https://dev12345.service-now.com", DATABASE_URL=url
        )
        for _ in range(2):  # once per release, and harmless when already up to date
            done = await run(installed.cli, "migrate", cwd=tmp_path, env=env)
            assert done.returncode == 0, done
            assert done.stdout.strip() == f"incident-bot: database at revision {HEAD}"


async def test_check_signs_in_to_slack_servicenow_and_the_database(
    installed: Installed, tmp_path: Path
) -> None:
    async with stand_ins() as running:
        env = clean_environment(**running.settings)
        migrated = await run(installed.cli, "migrate", cwd=tmp_path, env=env)
        assert migrated.returncode == 0, migrated
        done = await run(installed.cli, "check", cwd=tmp_path, env=env)
        assert done.returncode == 0, done
        lines = done.stdout.splitlines()
        assert [line.split(":")[0] for line in lines] == ["✓ Slack", "✓ ServiceNow", "✓ database"]
        assert lines[2] == f"✓ database: revision {HEAD}"

        wrong = clean_environment(**{**running.settings, "SERVICENOW_PASSWORD": "wrong"})
        done = await run(installed.cli, "check", cwd=tmp_path, env=wrong)
        assert done.returncode == 1, done
        assert "✓ ServiceNow" not in done.stdout, done
        # What is wrong, on stderr in one line naming the setting (no traceback).
        assert done.stderr.splitlines() == [
            line for line in done.stderr.splitlines() if line.startswith("incident-bot: ")
        ], done
        assert "SERVICENOW_PASSWORD" in done.stderr, done


async def test_serve_answers_healthz_and_the_image_healthcheck_follows_it(
    installed: Installed, tmp_path: Path
) -> None:
    (healthcheck,) = [i for i in instructions(REPO / "Dockerfile") if i.keyword == "HEALTHCHECK"]
    program, *probe = healthcheck.exec_form(after=" CMD ")
    assert program == "python"  # in the image, the virtualenv's (it leads PATH)

    async with stand_ins() as running:
        # SQLite, migrated at start; PORT=0: any free port.
        env = clean_environment(**running.settings, HOST="127.0.0.1", PORT="0")
        async with (
            serving(installed, tmp_path, env) as url,
            httpx.AsyncClient(base_url=url, timeout=5) as http,
        ):

            async def healthy() -> bool:
                return (await http.get("/healthz")).status_code == 200

            await eventually(healthy, timeout=30)
            # The image's HEALTHCHECK, run as Docker runs it: with the container's PORT.
            port_only = clean_environment(PORT=url.rsplit(":", 1)[1])
            done = await run(installed.python, *probe, cwd=tmp_path, env=port_only)
            assert done.returncode == 0, done

            running.emulator.faults.add(Fault(status=403, times=-1, path_contains="/sys_user"))

            async def sick() -> bool:
                return (await http.get("/healthz")).status_code == 503

            await eventually(sick, timeout=10)  # once the cached ServiceNow ping expires
            done = await run(installed.python, *probe, cwd=tmp_path, env=port_only)
            assert done.returncode != 0 and "503" in done.stderr, done
