"""Failed answers map to one exception class per status, keeping ServiceNow's words for people."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from servicenow.errors import (
    AuthError,
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ServiceNowError,
    UnavailableError,
    error_from_response,
    parse_retry_after,
)

Sample = Callable[[str], Any]


@pytest.fixture
def from_fixture(sample: Sample) -> Callable[[str], ServiceNowError]:
    def build(name: str) -> ServiceNowError:
        data = sample(name)
        body = data.get("body")
        content = b"" if body is None else json.dumps(body).encode()
        return error_from_response(data["status"], data.get("headers", {}), content)

    return build


FromFixture = Callable[[str], ServiceNowError]


@pytest.mark.parametrize(
    ("name", "cls", "message", "detail"),
    [
        ("errors/400_invalid_table.json", BadRequestError, "Invalid table incidentx", None),
        (
            "errors/401_user_not_authenticated.json",
            AuthError,
            "User is not authenticated",
            "Required to provide Auth information",
        ),
        (
            "errors/403_acl_update_failed.json",
            ForbiddenError,
            "Operation Failed",
            "ACL Exception Update Failed due to security constraints",
        ),
        (
            "errors/403_insufficient_rights_query.json",
            ForbiddenError,
            "Insufficient rights to query records",
            "Field(s) present in the query do not have permission to be read",
        ),
        (
            "errors/403_user_not_authorized_table.json",
            ForbiddenError,
            "User Not Authorized",
            "User is unauthorized to access table: sys_ui_element",
        ),
        (
            "errors/404_no_record_found.json",
            NotFoundError,
            "No Record found",
            "Record doesn't exist or ACL restricts the record retrieval",
        ),
        (
            "errors/429_rate_limit_exceeded.json",
            RateLimitedError,
            "Rate limit exceeded",
            "Rate limit of 100 requests per hour for Table API exceeded",
        ),
    ],
)
def test_documented_error_bodies_map_by_status(
    from_fixture: FromFixture,
    sample: Sample,
    name: str,
    cls: type[ServiceNowError],
    message: str,
    detail: str | None,
) -> None:
    error = from_fixture(name)
    assert type(error) is cls
    assert error.status == sample(name)["status"]
    assert error.message == message
    assert error.detail == detail
    assert str(error).startswith(f"ServiceNow answered {error.status}: {message}")


def test_rate_limit_carries_retry_after_seconds(from_fixture: FromFixture) -> None:
    error = from_fixture("errors/429_rate_limit_exceeded.json")
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 1200.0


def test_semaphore_429_without_body_or_headers_still_maps(from_fixture: FromFixture) -> None:
    error = from_fixture("errors/429_semaphore_queue_full.json")
    assert isinstance(error, RateLimitedError)
    assert error.retry_after is None
    assert str(error) == "ServiceNow answered 429: too many requests"


def test_bodyless_server_errors_are_unavailable(from_fixture: FromFixture) -> None:
    error = from_fixture("errors/500_transaction_cancelled.json")
    assert isinstance(error, UnavailableError)
    assert error.status == 500


def test_quota_cancel_message_is_kept() -> None:
    body = b'{"error":{"message":"Transaction cancelled: maximum execution time exceeded","detail":null},"status":"failure"}'
    error = error_from_response(500, {}, body)
    assert isinstance(error, UnavailableError)
    assert "maximum execution time exceeded" in str(error)


def test_non_json_bodies_map_by_status() -> None:
    error = error_from_response(502, {"Content-Type": "text/html"}, b"<html>Bad Gateway</html>")
    assert isinstance(error, UnavailableError)
    assert error.status == 502
    assert isinstance(error_from_response(403, {}, b"nope"), ForbiddenError)
    assert isinstance(error_from_response(404, {}, b""), NotFoundError)


def test_an_empty_202_is_a_dropped_session_request() -> None:
    error = error_from_response(202, {}, b"")
    assert isinstance(error, UnavailableError)
    assert "queue" in str(error)


def test_mfa_401_explains_itself(from_fixture: FromFixture) -> None:
    error = from_fixture("errors/401_mfa_invalid.json")
    assert isinstance(error, AuthError)
    assert "multi-factor" in str(error)


def test_data_policy_403_names_the_mandatory_fields(from_fixture: FromFixture) -> None:
    error = from_fixture("errors/403_data_policy_mandatory.json")
    assert isinstance(error, ForbiddenError)
    assert error.mandatory_fields == ["Resolution code", "Close notes"]
    assert "The following fields are mandatory: Resolution code, Close notes" in str(error)
    assert "\n" not in str(error)


def test_other_403s_name_no_mandatory_fields(from_fixture: FromFixture) -> None:
    error = from_fixture("errors/403_acl_update_failed.json")
    assert isinstance(error, ForbiddenError)
    assert error.mandatory_fields == []


def test_unexpected_statuses_are_plain_servicenow_errors() -> None:
    error = error_from_response(415, {}, b"")
    assert type(error) is ServiceNowError
    assert error.status == 415


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("Wed, 01 May 2024 00:00:10 GMT", now=1714521600.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-4") == 0.0
