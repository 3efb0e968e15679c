"""Signed change events posted by the ServiceNow Business Rule (``business_rule.js``).

Headers: ``X-SN-Timestamp`` (Unix seconds) and ``X-SN-Signature: sha256=<base64 HMAC-SHA256 of
"<timestamp>.<raw body>">``, keyed with the secret's raw bytes; that is what
``GlideCertificateEncryption.generateMac(base64(secret), "HmacSHA256", data)`` computes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import datetime
from importlib import resources
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, field_validator

from servicenow.records import parse_datetime

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "ChangeEvent",
    "InvalidEvent",
    "InvalidSignature",
    "business_rule_instructions",
    "business_rule_script",
    "sign",
    "verify",
]

TIMESTAMP_HEADER = "X-SN-Timestamp"
SIGNATURE_HEADER = "X-SN-Signature"
URL_PROPERTY = "x_incident_bot.webhook_url"
SECRET_PROPERTY = "x_incident_bot.webhook_secret"

_SYS_ID = re.compile(r"[0-9a-f]{32}")
_TABLE = re.compile(r"[a-z0-9_]+")


class InvalidSignature(Exception):
    """The request is not a genuine, fresh signed event; ``reason`` says why (for logs, not callers)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidEvent(ValueError):
    """The signature is right but the body is not a change event."""


def _value(value: object) -> object:
    # Accept {"value": ..., "display_value": ...} objects as their value.
    if isinstance(value, dict):
        return value.get("value")
    return value


def _opt_text(value: object) -> str | None:
    value = _value(value)
    return None if value is None or value == "" else str(value)


OptText = Annotated[str | None, BeforeValidator(_opt_text)]


class ChangeEvent(BaseModel):
    """A record changed in ServiceNow: enough to fetch it and de-duplicate on (sys_id, sys_mod_count)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    table: str
    sys_id: str
    sys_mod_count: int
    number: OptText = None
    state: OptText = None
    operation: OptText = None
    sys_updated_on: datetime | None = None
    sys_updated_by: OptText = None

    @field_validator("table", mode="before")
    @classmethod
    def _table(cls, value: object) -> str:
        text = str(_value(value) or "")
        if not _TABLE.fullmatch(text):
            raise ValueError("not a table name")
        return text

    @field_validator("sys_id", mode="before")
    @classmethod
    def _sys_id(cls, value: object) -> str:
        text = str(_value(value) or "")
        if not _SYS_ID.fullmatch(text):
            raise ValueError("not a sys_id (32 lowercase hexadecimal characters)")
        return text

    @field_validator("sys_mod_count", mode="before")
    @classmethod
    def _mod_count(cls, value: object) -> int:
        value = _value(value)
        if isinstance(value, bool) or value is None:
            raise ValueError("not a modification count")
        count = int(str(value).strip())
        if count < 0:
            raise ValueError("a modification count is not negative")
        return count

    @field_validator("sys_updated_on", mode="before")
    @classmethod
    def _updated_on(cls, value: object) -> datetime | None:
        value = _value(value)
        if value is None or isinstance(value, datetime):
            return value
        return parse_datetime(str(value))

    @property
    def event_id(self) -> str:
        return f"{self.sys_id}:{self.sys_mod_count}"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``: ``sha256=<base64>``."""
    digest = hmac.new(
        secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256
    ).digest()
    return "sha256=" + base64.b64encode(digest).decode("ascii")


def verify(
    secret: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = 300,
) -> ChangeEvent:
    """Check a signed event and parse it.

    Raises InvalidSignature (no secret configured, a header missing, a timestamp more than
    ``tolerance`` seconds away, a wrong signature) or InvalidEvent (not a change event).
    """
    if not secret:
        raise InvalidSignature("no webhook secret is configured, so no event can be trusted")
    if not timestamp or not timestamp.strip():
        raise InvalidSignature(f"the {TIMESTAMP_HEADER} header is missing")
    if not signature or not signature.strip():
        raise InvalidSignature(f"the {SIGNATURE_HEADER} header is missing")
    timestamp = timestamp.strip()
    if not re.fullmatch(r"[0-9]{1,12}", timestamp):
        raise InvalidSignature(f"the {TIMESTAMP_HEADER} header is not Unix seconds")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance:
        raise InvalidSignature(
            f"the timestamp is more than {tolerance} s away from now (replayed or clock skew)"
        )
    expected = sign(secret, timestamp, body).encode("ascii")
    if not hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace")):
        raise InvalidSignature("the signature does not match the body")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than Python goes
        raise InvalidEvent("the body is not JSON") from exc
    if not isinstance(data, dict):
        raise InvalidEvent("the body is not a JSON object")
    missing = [name for name in ("table", "sys_id", "sys_mod_count") if data.get(name) is None]
    if missing:
        raise InvalidEvent(f"the event lacks {', '.join(missing)}")
    try:
        return ChangeEvent.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise InvalidEvent(f"the event is malformed ({problems})") from exc


def business_rule_script() -> str:
    """The Business Rule script, as shipped in the package."""
    return resources.files("servicenow").joinpath("business_rule.js").read_text(encoding="utf-8")


# The tables the bot tracks, each with the Business Rule: one line per record kind.
RULE_TABLES: tuple[tuple[str, str], ...] = (
    ("incident", "Incident"),
    ("sysapproval_approver", "Approval"),
    ("sc_req_item", "Requested Item"),
    ("change_request", "Change Request"),
    ("problem", "Problem"),
)


def business_rule_instructions(webhook_url: str | None = None) -> str:
    """Numbered steps to install the Business Rule on an instance, followed by the script."""
    url = webhook_url or "https://<where the bot listens>/servicenow/events"
    rules = "\n".join(
        f"     - Table: {label} [{table}]    Name: Incident bot - notify Slack ({table})"
        for table, label in RULE_TABLES
    )
    steps = f"""\
Send record changes from ServiceNow to the bot
==============================================

The bot also polls ServiceNow, so this is optional; with it, changes reach Slack within a second or
two instead of at the next poll. You need the admin role on the instance.

1. Create two system properties (type "sys_properties.list" in the navigator filter, then New):
     Name: {URL_PROPERTY}
     Type: string
     Value: {url}

     Name: {SECRET_PROPERTY}
     Type: string
     Value: the same value as SERVICENOW_WEBHOOK_SECRET in the bot's environment
            (for example the output of: python -c "import secrets; print(secrets.token_urlsafe(32))")
     Read roles: admin   (so only administrators can read the secret)

2. Create a Business Rule on each table below (System Definition > Business Rules > New), with
   the same script:
{rules}
     Advanced: checked
     When to run: When = async, Insert = checked, Update = checked
     Advanced tab, Script: replace the template with the script below.
     Submit.

3. (Any table left out is still read by the poller, only later.)

4. Check it: change the state of an incident. The bot logs the event; if it logs a rejected
   signature, the secret in step 1 differs from SERVICENOW_WEBHOOK_SECRET or the clocks are more
   than 5 minutes apart. Outbound calls are listed in System Logs > Outbound HTTP Requests.

The script (the same for every rule):

"""
    return steps + business_rule_script()
