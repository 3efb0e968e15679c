"""A `/slack/events` body read as Slack sends it, for the app (`dispatch`) and the front alike.

Bolt's `parse_body` (slack_bolt 1.30.0, `slack_bolt/request/internals.py`) takes any form in which
the text "payload" appears anywhere for an interactivity payload, looks for its `payload` field,
finds none and reads the body as `{}`: `/incident payload server down`, or any command from
`#payload-team`, was a 404 ("unhandled request") and the person saw an error. No upstream issue
was found (searched December 2026). Here a form is an interactivity payload only when it has a
`payload` field. Socket Mode is not affected: its envelopes arrive as JSON, already parsed.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.request import internals
from slack_bolt.request.async_internals import build_async_context
from starlette.requests import Request
from starlette.responses import Response


def parse_body(raw: str, content_type: str | None) -> dict[str, Any]:
    """A JSON body as Bolt reads it; a form is its `payload` field's JSON when it has that
    field, else its fields (each name once, the last value; blank values kept, as Bolt does)."""
    if not raw or content_type == "application/json" or raw.startswith("{"):
        return internals.parse_body(raw, content_type)
    form = dict(parse_qsl(raw, keep_blank_values=True))
    payload = form.get("payload")
    return form if payload is None else json.loads(payload)


class SlackRequest(AsyncBoltRequest):
    """Bolt's HTTP request with its body read by `parse_body`, and what Bolt derives from the
    body (the context: team, enterprise, user, channel, response_url…) derived from that.
    The raw body stays as it came: the signature is checked against it."""

    def __init__(
        self,
        *,
        body: str,
        query: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(body="", query=query, headers=headers, context=context, mode="http")
        self.raw_body = body
        self.body = parse_body(body, self.content_type)
        self.context = build_async_context(self.context, self.body)

    def to_copyable(self) -> SlackRequest:
        """The copy Bolt hands a lazy listener, read the same way (Bolt's reads it again)."""
        return SlackRequest(
            body=self.raw_body,
            query=dict(self.query),
            headers=dict(self.headers),
            context=self.context.to_copyable(),
        )


async def dispatch(bolt: AsyncApp, body: bytes, request: Request) -> Response:
    """`POST /slack/events` (its body already read) through Bolt, as Bolt's Starlette handler
    does it but with the body read by `SlackRequest`."""
    answer = await bolt.async_dispatch(
        SlackRequest(
            body=body.decode(), query=dict(request.query_params), headers=dict(request.headers)
        )
    )
    return to_starlette_response(answer)
