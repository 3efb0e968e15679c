"""Signed change events, as the Business Rule in design.md "Signed change events" sends them.

Headers: `X-SN-Timestamp: <unix seconds>` and `X-SN-Signature: sha256=<base64 HMAC-SHA256 of
"<timestamp>.<raw body>" keyed with the secret's raw UTF-8 bytes>`. The body is compact,
ASCII-only JSON (what `JSON.stringify` plus ASCII escapes gives), and it is exactly the bytes signed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

log = logging.getLogger(__name__)

EVENT_FIELDS = ("number", "state", "operation", "sys_mod_count", "sys_updated_on", "sys_updated_by")


def _default_tables() -> set[str]:
    return {"incident", "sysapproval_approver", "sc_req_item", "change_request", "problem"}


@dataclass
class WebhookTarget:
    url: str
    secret: str
    tables: set[str] = field(default_factory=_default_tables)


@dataclass
class WebhookDelivery:
    """What happened to one event: `status` is None when the POST itself failed."""

    url: str
    body: bytes
    headers: dict[str, str]
    status: int | None = None
    error: str = ""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def event_body(table: str, record: dict[str, str], operation: str) -> bytes:
    """The fields and order of servicenow/business_rule.js, compact and ASCII-only."""
    payload: dict[str, Any] = {"table": table, "sys_id": record["sys_id"]}
    for name in EVENT_FIELDS:
        payload[name] = operation if name == "operation" else record.get(name, "")
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()


def event_headers(secret: str, timestamp: str, body: bytes, event_id: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "ServiceNow",
        "X-SN-Event-Id": event_id,
        "X-SN-Timestamp": timestamp,
        "X-SN-Signature": sign(secret, timestamp, body),
    }


async def deliver(delivery: WebhookDelivery, client: httpx.AsyncClient) -> None:
    """POST one event; failures are logged and recorded on `delivery`, never raised."""
    try:
        response = await client.post(delivery.url, content=delivery.body, headers=delivery.headers)
        delivery.status = response.status_code
        if response.status_code >= 300:
            log.warning("webhook %s answered %s", delivery.url, response.status_code)
    except httpx.HTTPError as exc:
        delivery.error = repr(exc)
        log.warning("webhook %s failed: %r", delivery.url, exc)


class WebhookSender:
    """Sends each change event to `target` in the background, keeping every delivery's outcome.

    When no event loop is running (plain synchronous use), the event is recorded with an error
    and not sent.
    """

    def __init__(self) -> None:
        self.target: WebhookTarget | None = None
        self.deliveries: list[WebhookDelivery] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None

    def send(self, table: str, record: dict[str, str], operation: str, now: datetime) -> None:
        target = self.target
        if target is None or table not in target.tables:
            return
        timestamp = str(int(now.timestamp()))
        body = event_body(table, record, operation)
        event_id = f"{record['sys_id']}:{record.get('sys_mod_count', '')}"
        headers = event_headers(target.secret, timestamp, body, event_id)
        delivery = WebhookDelivery(target.url, body, headers)
        self.deliveries.append(delivery)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            delivery.error = "no running event loop: not sent"
            log.info("webhook for %s %s not sent: no running event loop", table, record["sys_id"])
            return
        if self._http is None:
            # One client for every delivery (a client per POST costs more than the POST).
            self._http = httpx.AsyncClient(timeout=10.0)
        task = loop.create_task(deliver(delivery, self._http))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        """Wait until every delivery started so far (and any they caused) is done."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None
