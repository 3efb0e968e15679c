"""Turn failures into one friendly sentence for the person in Slack."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.slack.kit import escape
from servicenow.errors import (
    AuthError,
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ServiceNowError,
    UnavailableError,
)
from servicenow.query import UnsafeQueryValue


class Refusal(Exception):
    """Something the person asked for can't be done; the message says why, for them."""


def explain(exc: Exception) -> str:
    if isinstance(exc, Refusal):
        return str(exc)
    if isinstance(exc, UnsafeQueryValue):
        return f":warning: {escape(str(exc))}"
    if isinstance(exc, ServiceNowError):
        return _servicenow(exc)
    if isinstance(exc, SlackApiError):
        return f":warning: Slack refused the request ({escape(str(exc.response.get('error', 'unknown error')))})."
    return ":warning: Something went wrong on my side; nothing was changed. Please try again."


def _servicenow(exc: ServiceNowError) -> str:
    if isinstance(exc, ForbiddenError):
        if exc.mandatory_fields:
            fields = escape(", ".join(exc.mandatory_fields))
            return f":warning: ServiceNow needs these fields filled in: {fields}."
        return f":no_entry: ServiceNow refused: {escape(exc.detail or exc.message)}."
    if isinstance(exc, NotFoundError):
        return ":mag: ServiceNow has no such record (or you may not see it)."
    if isinstance(exc, RateLimitedError):
        wait = f" Try again in {int(exc.retry_after)} s." if exc.retry_after else ""
        return f":hourglass: ServiceNow is rate-limiting requests right now.{wait}"
    if isinstance(exc, UnavailableError):
        return (
            ":warning: ServiceNow isn't answering right now, so nothing was changed. "
            "Please try again in a minute."
        )
    if isinstance(exc, AuthError):
        return (
            ":warning: I couldn't sign in to ServiceNow, so nothing was changed. "
            "Please tell the person who runs this bot (`incident-bot check` shows why)."
        )
    if isinstance(exc, BadRequestError):
        return f":warning: ServiceNow rejected the request: {escape(exc.message)}."
    return f":warning: ServiceNow answered with an error: {escape(exc.message)}."
