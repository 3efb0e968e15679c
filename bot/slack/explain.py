"""Turn failures into one friendly sentence for the person in Slack.

Honest about ServiceNow: "nothing was changed" is said only when nothing was. `writes` are the
writes the failed work had already made (or may have made) in ServiceNow (`tracking_writes`); after
one, the sentence says what happened and what to check before trying again.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.errors import SlackApiError

from bot.slack.kit import Block, escape
from servicenow.client import Write
from servicenow.errors import (
    AuthError,
    BadRequestError,
    ForbiddenError,
    GrantRefused,
    NotFoundError,
    RateLimitedError,
    ServiceNowError,
    UnavailableError,
    WriteNotDoneError,
    WriteUncertainError,
)
from servicenow.query import UnsafeQueryValue

NOUNS = {"incident": "incident", "sysapproval_approver": "approval"}


class Refusal(Exception):
    """Something the person asked for can't be done; the message says why, for them."""

    @property
    def blocks(self) -> tuple[Block, ...]:
        """Blocks to show instead of the bare text (a button that fixes it); none by default."""
        return ()


def explain(exc: Exception, writes: Sequence[Write] = ()) -> str:
    if isinstance(exc, WriteUncertainError) or any(not w.certain for w in writes):
        uncertain = next((w for w in writes if not w.certain), None)
        what = exc.what if isinstance(exc, WriteUncertainError) else "the change was made"
        return (
            f":warning: ServiceNow did not answer, so I can't tell whether {what}. "
            f"{_check(uncertain)} before trying again."
        )
    landed = [w for w in writes if w.certain]
    if landed:
        return (
            f":warning: {_done(landed[-1])}, but then something went wrong "
            f"({_reason(exc)}), so I couldn't finish. {_check(landed[-1])} before trying again."
        )
    if isinstance(exc, Refusal):
        return str(exc)
    if isinstance(exc, UnsafeQueryValue):
        return f":warning: {escape(str(exc))}"
    if isinstance(exc, ServiceNowError):
        return _servicenow(exc)
    if isinstance(exc, SlackApiError):
        return f":warning: Slack refused the request ({escape(str(exc.response.get('error', 'unknown error')))})."
    return (
        ":warning: Something went wrong on my side; nothing was changed in ServiceNow. "
        "Please try again."
    )


def acl_hides(exc: ServiceNowError) -> bool:
    """A 404 that is an ACL hiding the record ("ACL restricts the record retrieval")."""
    return "acl" in f"{exc.message} {exc.detail or ''}".lower()


def _noun(table: str) -> str:
    return NOUNS.get(table, "record")


def _done(write: Write) -> str:
    if write.method == "POST":
        if write.number:
            return f"ServiceNow opened {escape(write.number)}"
        return f"ServiceNow accepted the new {_noun(write.table)}"
    return f"ServiceNow saved the change to {escape(write.number) or 'the ' + _noun(write.table)}"


def _check(write: Write | None) -> str:
    if write is None:
        return "Check it in ServiceNow"
    if write.number:
        return f"Look at {escape(write.number)}"
    if write.table == "incident":
        return "Check `/incident list`"
    return f"Check the {_noun(write.table)} in ServiceNow"


def _reason(exc: Exception) -> str:
    if isinstance(exc, ServiceNowError):
        return "ServiceNow did not answer the next step" if exc.status is None else escape(str(exc))
    if isinstance(exc, SlackApiError):
        return f"Slack refused: {escape(str(exc.response.get('error', 'unknown error')))}"
    return "an error on my side"


def _servicenow(exc: ServiceNowError) -> str:
    if isinstance(exc, WriteNotDoneError):
        return f":warning: {escape(str(exc))}; nothing was changed. Please try again."
    if isinstance(exc, ForbiddenError):
        if exc.mandatory_fields:
            fields = escape(", ".join(exc.mandatory_fields))
            return f":warning: ServiceNow needs these fields filled in: {fields}."
        # An ACL (or a business rule) said no: say so, never ServiceNow's raw text.
        return (
            ":no_entry: ServiceNow didn't allow this for your account, so nothing was changed. "
            "If you need to do it, ask your ServiceNow admin for the role that allows it "
            "(for incidents: itil), or ask the assignee or the service desk."
        )
    if isinstance(exc, NotFoundError):
        if acl_hides(exc):
            return (
                ":no_entry: ServiceNow won't show you this record: your account isn't allowed to "
                "read it. Ask its caller to add you to the watch list, or your ServiceNow admin "
                "for the role that allows it."
            )
        return ":mag: ServiceNow has no such record (or you may not see it)."
    if isinstance(exc, RateLimitedError):
        wait = f" Try again in {int(exc.retry_after)} s." if exc.retry_after else ""
        return f":hourglass: ServiceNow is rate-limiting requests right now.{wait}"
    if isinstance(exc, UnavailableError):
        return (
            ":warning: ServiceNow isn't answering right now, so nothing was changed. "
            "Please try again in a minute."
        )
    if isinstance(exc, GrantRefused):
        return (
            f":lock: ServiceNow wouldn't let me act as you (*{escape(exc.subject)}*), so nothing "
            "was changed. Your ServiceNow account may be inactive or locked, or not set up for "
            "Slack yet: please ask your ServiceNow admin."
        )
    if isinstance(exc, AuthError):
        return (
            ":warning: I couldn't sign in to ServiceNow, so nothing was changed. "
            "Please tell the person who runs this bot (`incident-bot check` shows why)."
        )
    if isinstance(exc, BadRequestError):
        return f":warning: ServiceNow rejected the request: {escape(exc.message)}."
    return f":warning: ServiceNow answered with an error: {escape(exc.message)}."
