"""Helpers for the ServiceNow client suites: the shared fixture bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import SERVICENOW_FIXTURES, Sleeps


def load_fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SERVICENOW_FIXTURES / name).read_text())
    return data


@pytest.fixture
def sleeps() -> Sleeps:
    """A sleep for the client that records each wait and returns at once."""
    return Sleeps()


@pytest.fixture
def sample() -> Any:
    """Load a whole sample file (request, status, headers, body)."""
    return load_fixture


@pytest.fixture
def fixture_body() -> Any:
    def body(name: str) -> Any:
        return load_fixture(name)["body"]

    return body
