"""Modal submissions: validate on the field, ack, then write to ServiceNow and answer."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot import blocks
from bot.explain import explain
from bot.home import Home
from bot.incidents import Incidents, NewIncident
from bot.listeners import forms
from bot.listeners.posting import post_card
from bot.messenger import Messenger
from storage import IdempotencyKeys

log = logging.getLogger(__name__)


def register(
    app: AsyncApp, incidents: Incidents, keys: IdempotencyKeys, messenger: Messenger, home: Home
) -> None:
    async def once(body: dict[str, Any], work: Callable[[], Awaitable[None]]) -> None:
        """Run a submission's work once per view (a double submit or a retry is one), telling errors."""
        view = body["view"]
        key = f"view:{view['id']}"
        if not await keys.claim(key):
            log.info("ignoring a repeated submission of %s", view["id"])
            return
        user, meta = body["user"]["id"], forms.metadata(body)
        try:
            await work()
        except Exception as exc:
            await keys.release(key)
            log.info("%s failed for %s: %r", view.get("callback_id"), user, exc)
            if meta.get("origin") == "home":
                await home.publish(user, notice=explain(exc))
            else:
                await messenger.ephemeral(meta.get("channel"), user, blocks.notice(explain(exc)))
            return
        if meta.get("origin") == "home":
            await home.publish(user)  # the Home shows what the person just did

    @app.view("incident_create")
    async def create(ack: AsyncAck, body: dict[str, Any]) -> None:
        values = forms.values(body)
        short = forms.text(values, "short_description")
        if not short:
            await ack(
                response_action="errors",
                errors={"short_description": "Say in a line what is wrong."},
            )
            return
        await ack()
        user, channel = body["user"]["id"], forms.metadata(body).get("channel", "")
        new = NewIncident(
            short_description=short,
            description=forms.text(values, "description"),
            impact=forms.selected(values, "impact") or "3",
            urgency=forms.selected(values, "urgency") or "3",
            category=forms.selected(values, "category"),
            assignment_group=forms.selected(values, "assignment_group", "group"),
        )

        async def work() -> None:
            created = await incidents.create(
                user, new, correlation_id=f"slack-view:{body['view']['id']}"
            )

            async def tell(text: str) -> None:
                await messenger.ephemeral(channel, user, blocks.notice(text))

            await post_card(incidents, channel or user, created.incident, created.card, tell)

        await once(body, work)

    @app.view("incident_comment")
    async def comment(ack: AsyncAck, body: dict[str, Any]) -> None:
        values = forms.values(body)
        text = forms.text(values, "text")
        if not text:
            await ack(response_action="errors", errors={"text": "Write something first."})
            return
        await ack()
        meta = forms.metadata(body)

        async def work() -> None:
            await incidents.comment(
                body["user"]["id"], meta["sys_id"], text, public=bool(meta.get("public"))
            )

        await once(body, work)

    @app.view("incident_resolve")
    async def resolve(ack: AsyncAck, body: dict[str, Any]) -> None:
        values = forms.values(body)
        code, notes = forms.selected(values, "close_code"), forms.text(values, "close_notes")
        errors = {}
        if not code:
            errors["close_code"] = "Choose a resolution code."
        if not notes:
            errors["close_notes"] = "Say how it was resolved."
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        meta = forms.metadata(body)

        async def work() -> None:
            await incidents.resolve(body["user"]["id"], meta["sys_id"], code, notes)

        await once(body, work)

    @app.view("incident_hold")
    async def hold(ack: AsyncAck, body: dict[str, Any]) -> None:
        values = forms.values(body)
        reason, text = forms.selected(values, "hold_reason"), forms.text(values, "text")
        if reason == "1" and not text:
            await ack(
                response_action="errors",
                errors={"text": "Tell the caller what you need from them."},
            )
            return
        await ack()
        meta = forms.metadata(body)

        async def work() -> None:
            await incidents.hold(body["user"]["id"], meta["sys_id"], reason, text)

        await once(body, work)
