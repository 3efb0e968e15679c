"""Exceptions raised by the ServiceNow client, and the mapping from HTTP answers to them.

ServiceNow reports failures as ``{"error": {"message": ..., "detail": ...}, "status": "failure"}``; the
detail may be null and some answers (semaphore 429, session-queue 202, proxies' 5xx) have no body at all.
The status code decides the class; the message text is kept for people, never branched on.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Mapping

__all__ = [
    "AuthError",
    "BadRequestError",
    "ForbiddenError",
    "GrantRefused",
    "NotFoundError",
    "RateLimitedError",
    "ServiceNowError",
    "UnavailableError",
    "UnsafeQueryValue",
    "WriteNotDoneError",
    "WriteUncertainError",
    "error_from_response",
    "parse_error_body",
    "parse_retry_after",
]

_MANDATORY = re.compile(
    r"following fields are mandatory:\s*(?P<fields>.+)", re.IGNORECASE | re.DOTALL
)


class ServiceNowError(Exception):
    """A failed ServiceNow call. ``status`` is the HTTP status, or None when no answer came back."""

    def __init__(
        self, message: str, *, status: int | None = None, detail: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        text = self.message.strip() or "request failed"
        if self.detail and self.detail.strip() and self.detail.strip() != text:
            text = f"{text}: {' '.join(self.detail.split())}"
        if text.startswith("ServiceNow"):  # already a full sentence about ServiceNow
            return text if self.status is None else f"{text} (HTTP {self.status})"
        if self.status is not None:
            return f"ServiceNow answered {self.status}: {text}"
        return f"ServiceNow: {text}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, status={self.status!r}, "
            f"detail={self.detail!r})"
        )


class AuthError(ServiceNowError):
    """401 from the API, or the OAuth token endpoint refused the credentials."""


class GrantRefused(AuthError):
    """The token endpoint refused to let the client act as one person (``subject``, the e-mail the
    grant named): their account can't sign in, or the grant isn't set up for them."""

    def __init__(self, subject: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.subject = subject


class ForbiddenError(ServiceNowError):
    """403: an ACL, a business rule or a data policy refused the operation."""

    @property
    def mandatory_fields(self) -> list[str]:
        """Field labels named by a "Data Policy Exception: ... fields are mandatory: A, B" detail."""
        for text in (self.detail, self.message):
            if not text:
                continue
            match = _MANDATORY.search(text)
            if match:
                names = match.group("fields").split(",")
                return [name.strip().rstrip(".") for name in names if name.strip().rstrip(".")]
        return []


class NotFoundError(ServiceNowError):
    """404: no such record, or an ACL hides it (ServiceNow answers the same for both)."""


class RateLimitedError(ServiceNowError):
    """429 that outlasted the retry budget. ``retry_after`` is in seconds, when the server said."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 429,
        detail: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, detail=detail)
        self.retry_after = retry_after


class UnavailableError(ServiceNowError):
    """5xx, an empty 202 (session queue full), a connection failure or a timeout."""


class WriteNotDoneError(UnavailableError):
    """A write got no answer, and waiting out the instance's transaction horizon proved it did not
    land: nothing was changed."""


class WriteUncertainError(ServiceNowError):
    """A write got no answer and the client could not find out whether it landed (the look-ups
    failed too). ``what`` says, for a person, what may have happened."""

    def __init__(self, message: str, *, what: str, detail: str | None = None) -> None:
        super().__init__(message, status=None, detail=detail)
        self.what = what


class BadRequestError(ServiceNowError):
    """400: the request itself is wrong (unknown table, bad query, missing header)."""


class UnsafeQueryValue(ValueError):
    """A value that cannot go into an encoded query safely (or a malformed number, e-mail, sys_id)."""


def parse_error_body(content: bytes) -> tuple[str | None, str | None]:
    """(message, detail) from a ServiceNow or OAuth error body; (None, None) when there is none."""
    if not content.strip():
        return None, None
    try:
        data = json.loads(content)
    except ValueError:
        text = content.decode("utf-8", "replace").strip()
        return (text[:300] or None), None
    if not isinstance(data, Mapping):
        return None, None
    error = data.get("error")
    if isinstance(error, Mapping):
        message = error.get("message")
        detail = error.get("detail")
        return (
            str(message) if message is not None else None,
            str(detail) if detail is not None else None,
        )
    if isinstance(error, str):  # OAuth token endpoint: {"error": ..., "error_description": ...}
        description = data.get("error_description")
        return error, str(description) if description is not None else None
    return None, None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if unusable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


_DEFAULT_MESSAGES = {
    202: "the request was queued and dropped (session queue full)",
    400: "bad request",
    401: "not authenticated",
    403: "forbidden",
    404: "no record found",
    429: "too many requests",
}


def error_from_response(status: int, headers: Mapping[str, str], content: bytes) -> ServiceNowError:
    """The exception for a failed Table API answer, chosen by status code."""
    message, detail = parse_error_body(content)
    text = message or _DEFAULT_MESSAGES.get(status) or f"HTTP {status}"
    if status == 400:
        return BadRequestError(text, status=status, detail=detail)
    if status == 401:
        if headers.get("X-MFA_TOKEN", "").lower() == "invalid" and detail is None:
            detail = "the account requires multi-factor authentication for REST calls"
        return AuthError(text, status=status, detail=detail)
    if status == 403:
        return ForbiddenError(text, status=status, detail=detail)
    if status == 404:
        return NotFoundError(text, status=status, detail=detail)
    if status == 429:
        retry_after = parse_retry_after(headers.get("Retry-After"))
        return RateLimitedError(text, status=status, detail=detail, retry_after=retry_after)
    if status == 202 or status >= 500:
        if status >= 500 and message is None:
            text = f"server error (HTTP {status})"
        return UnavailableError(text, status=status, detail=detail)
    return ServiceNowError(text, status=status, detail=detail)
