"""Open a modal inside the 3 s trigger window, even when the data for it is slow to come."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.explain import explain
from bot.slack.kit import modal, section

log = logging.getLogger(__name__)

# How long the view's data may take before the modal opens with "Loading…" instead. Slack's
# trigger_id lives 3 s and has travelled to us already, so keep well inside it.
WAIT_BEFORE_LOADING = 0.8


def loading_view(title: str) -> dict[str, Any]:
    return modal("loading", title, [section(":hourglass: Loading from ServiceNow…")], submit=None)


def error_view(title: str, message: str) -> dict[str, Any]:
    return modal("error", title, [section(message)], submit=None)


async def open_modal(
    client: AsyncWebClient, trigger_id: str, title: str, view: Awaitable[dict[str, Any]]
) -> None:
    """Open the modal `view` builds; if it isn't ready in time, open "Loading…" and fill it later."""
    task = asyncio.ensure_future(view)
    with contextlib.suppress(TimeoutError, Exception):
        await asyncio.wait_for(asyncio.shield(task), WAIT_BEFORE_LOADING)
    if task.done():
        await client.views_open(trigger_id=trigger_id, view=_result(title, task))
        return
    opened = await client.views_open(trigger_id=trigger_id, view=loading_view(title))
    await asyncio.wait([task])
    await client.views_update(
        view_id=opened["view"]["id"], hash=opened["view"]["hash"], view=_result(title, task)
    )


def _result(title: str, task: asyncio.Future[dict[str, Any]]) -> dict[str, Any]:
    exc = task.exception()
    if exc is None:
        return task.result()
    log.info("modal %r could not be filled: %r", title, exc)
    return error_view(title, explain(exc if isinstance(exc, Exception) else RuntimeError()))
