"""Fixtures for the ServiceNow emulator suites: a served emulator and HTTP clients against it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.servicenow import Emulator, run_emulator
from tests.support import SERVICENOW_FIXTURES

BOT = ("incident.bot", "incident-bot")


def load_fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SERVICENOW_FIXTURES / name).read_text())
    return data


@pytest.fixture
def fixture_dir() -> Path:
    """`tests/fixtures/servicenow/` (test modules cannot import conftest under importlib mode)."""
    return SERVICENOW_FIXTURES


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with run_emulator() as running:
        yield running


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    """Authenticated as the integration user with basic auth."""
    async with httpx.AsyncClient(base_url=emulator.instance_url, auth=BOT) as http:
        yield http


@pytest.fixture
async def anonymous(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emulator.instance_url) as http:
        yield http
