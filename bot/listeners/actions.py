"""Buttons on cards."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp


def register(app: AsyncApp) -> None:
    @app.action("incident_open")
    async def open_in_servicenow(ack: AsyncAck) -> None:
        # A link button: Slack opens the URL itself but still tells the app, which must ack.
        await ack()
