"""The container image and compose.yaml, read as files (no container engine here): the image installs
the wheel with deploy/install.sh (which test_wheel.py runs), runs as a non-root user, checks
/healthz, and takes its configuration only from the environment; compose wires PostgreSQL, a
one-shot migration and the bot."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import SettingsError, load_settings
from tests.packaging.dockerfile import Instruction, stages
from tests.packaging.installed import REPO

SETTINGS = {
    "DATABASE_POOL_SIZE",
    "DATABASE_POOL_TIMEOUT",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "SERVICENOW_INSTANCE_URL",
    "SERVICENOW_USERNAME",
    "SERVICENOW_PASSWORD",
    "SERVICENOW_CLIENT_ID",
    "SERVICENOW_CLIENT_SECRET",
    "SERVICENOW_WEBHOOK_SECRET",
    "SERVICENOW_POLL_SECONDS",
    "DATABASE_URL",
    "INCIDENT_CHANNEL",
    "HOST",
    "PORT",
    "OUTBOX_LEASE_SECONDS",
    "OUTBOX_GIVE_UP_HOURS",
    "OUTBOX_MAX_BACKOFF_SECONDS",
    "DM_FOLD_SECONDS",
    "SLACK_UPDATES_PER_MINUTE",
    "SLACK_UPDATE_BURST",
    "RETENTION_DAYS",
    "RETENTION_CLOSED_DAYS",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "READ_ROLES",
    "FULFILLER_ROLES",
    "E_SIGNATURE_TABLES",
    "SERVICENOW_JWT_PRIVATE_KEY",
    "SERVICENOW_JWT_KEY_ID",
    "SERVICENOW_LINKING",
    "TOKEN_ENCRYPTION_KEYS",
    "PUBLIC_URL",
    "SERVICENOW_MAX_IN_FLIGHT",
    "SERVE_WORKERS",
}  # the design's configuration table and the settings issues #12, #13, #14 and #15 added
pytestmark = pytest.mark.packaging

COMPOSE_ONLY = {"POSTGRES_PASSWORD", "PUBLISH_PORT"}


def image() -> list[Instruction]:
    """The final stage: what the image is."""
    return stages(REPO / "Dockerfile")[-1]


def only(keyword: str) -> Instruction:
    found = [i for i in image() if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword} in the final stage, found {found}"
    return found[0]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def env_example() -> dict[str, str]:
    """NAME -> value for every variable .env.example names, set (`X=1`) or commented (`#X=1`)."""
    text = (REPO / ".env.example").read_text(encoding="utf-8")
    return dict(re.findall(r"^#?([A-Z][A-Z0-9_]*)=(.*)$", text, flags=re.MULTILINE))


def test_settings_match_the_design_table() -> None:
    from bot.settings import Settings

    assert {name.upper() for name in Settings.model_fields} == SETTINGS


def test_the_image_is_slim_python_and_installs_with_deploy_install_sh_only() -> None:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    version = re.search(r"^ARG PYTHON_VERSION=(\S+)$", dockerfile, flags=re.MULTILINE)
    assert version and version.group(1) in ("3.11", "3.12")
    assert only("FROM").arguments == "python:${PYTHON_VERSION}-slim"

    runs = [i.arguments for i in image() if i.keyword == "RUN"]
    (install,) = [run for run in runs if "install.sh" in run]
    assert "source=deploy/install.sh" in install or any(
        i.keyword == "COPY" and "deploy/install.sh" in i.arguments for i in image()
    )
    assert re.search(r"install\.sh \S+ /opt/incident-bot\b", install)
    assert all("pip " not in run for run in runs if run is not install), "install.sh does it all"
    env = only("ENV").arguments
    assert "PATH=/opt/incident-bot/bin:$PATH" in env


def test_the_image_builds_the_wheel_from_every_package_pyproject_ships() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    builder = stages(REPO / "Dockerfile")[0]
    sources = {s for i in builder if i.keyword == "COPY" for s in i.arguments.split()[:-1]}
    assert packages <= sources and {"pyproject.toml", "README.md"} <= sources
    assert all((REPO / source).exists() for source in sources)
    assert any("pip wheel" in i.arguments for i in builder if i.keyword == "RUN")


def test_the_image_runs_serve_as_a_non_root_user_on_port_3000() -> None:
    user = only("USER").arguments.split(":")[0]
    assert user not in ("root", "0")
    assert [i.keyword for i in image()].index("USER") > max(
        n for n, i in enumerate(image()) if i.keyword == "RUN"
    ), "USER comes after every RUN"
    assert only("EXPOSE").arguments == "3000"
    assert only("CMD").exec_form() == ["incident-bot", "serve"]


def test_the_image_healthcheck_asks_healthz_with_python_not_curl() -> None:
    healthcheck = only("HEALTHCHECK")
    command = healthcheck.exec_form(after=" CMD ")
    assert command[:2] == ["python", "-c"]
    assert "urllib.request" in command[2] and "/healthz" in command[2]
    assert "os.environ.get('PORT', '3000')" in command[2]
    assert set(healthcheck.flags()) >= {"interval", "timeout", "start-period", "retries"}


def test_the_image_takes_configuration_only_from_the_environment() -> None:
    assert not [i for i in image() if i.keyword == "ENV" and set(_env_names(i)) & SETTINGS]
    assert not [i for i in image() if i.keyword in ("COPY", "ADD") and ".env" in i.arguments]
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored and ".git" in ignored and ".venv" in ignored


def _env_names(instruction: Instruction) -> list[str]:
    return re.findall(r"(?:^|\s)([A-Z_][A-Z0-9_]*)=", instruction.arguments)


def test_compose_runs_postgres_then_a_one_shot_migrate_then_the_bot() -> None:
    services = compose()["services"]
    assert set(services) == {"db", "migrate", "bot"}

    db = services["db"]
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert db["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")

    migrate, bot = services["migrate"], services["bot"]
    assert migrate["image"] == bot["image"] and migrate["build"] == bot["build"] == "."
    assert migrate["command"] == ["incident-bot", "migrate"]
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert migrate["restart"] == "no"
    assert bot["command"] == ["incident-bot", "serve"]
    assert bot["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert bot["ports"] == ["${PUBLISH_PORT:-3000}:3000"]


@pytest.mark.parametrize("name", ["migrate", "bot"])
def test_compose_passes_configuration_only_through_the_environment(name: str) -> None:
    service = compose()["services"][name]
    assert service["env_file"] == ".env"
    assert set(service["environment"]) <= SETTINGS
    assert service["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@db:5432/" in service["environment"]["DATABASE_URL"]
    assert not {"volumes", "configs", "secrets", "entrypoint", "working_dir"} & set(service)
    assert service["command"][1:] in (["migrate"], ["serve"])  # no options, no files


def test_env_example_documents_every_setting_and_what_compose_reads() -> None:
    documented = env_example()
    assert set(documented) == SETTINGS | COMPOSE_ONLY
    compose_text = (REPO / "compose.yaml").read_text(encoding="utf-8")
    interpolated = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", compose_text))
    assert interpolated <= set(documented)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first_cells = re.findall(r"^\| (`[A-Z_]+`.*?) \|", readme, flags=re.MULTILINE)
    in_readme_table = {name for cell in first_cells for name in re.findall(r"`([A-Z_]+)`", cell)}
    assert in_readme_table == SETTINGS


def test_a_copied_env_example_asks_only_for_what_is_left_to_fill_in(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in SETTINGS | {"SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"}:
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text((REPO / ".env.example").read_text(encoding="utf-8"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError) as caught:
        load_settings("serve")
    assert sorted(problem.split(":")[0] for problem in caught.value.problems) == [
        "SERVICENOW_INSTANCE_URL",
        "SERVICENOW_USERNAME",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
    ]
