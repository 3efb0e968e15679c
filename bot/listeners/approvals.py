"""Approve / Reject buttons (DM card, `/incident approvals` list, Home tab) and the reject form.

Ack first, then decide. The answer goes back where the click came from: the Home tab is
republished, an ephemeral list is replaced by the fresh one, and a DM card is rewritten in place by
the use case (errors there come back as an ephemeral note through the response_url).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import blocks
from bot.approvals import Approvals, Decided
from bot.explain import explain
from bot.home import Home
from bot.listeners import forms
from bot.listeners.modals import open_modal
from bot.messenger import Messenger
from storage import IdempotencyKeys

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Origin:
    """Where a click came from, so the answer goes back there (also kept in the reject form)."""

    kind: Literal["home", "ephemeral", "message"]
    channel: str = ""
    response_url: str = ""

    @classmethod
    def of(cls, body: dict[str, Any]) -> Origin:
        container = body.get("container") or {}
        if container.get("type") == "view":
            return cls("home")
        channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id") or "")
        kind: Literal["ephemeral", "message"] = (
            "ephemeral" if container.get("is_ephemeral") else "message"
        )
        return cls(kind, channel, str(body.get("response_url") or ""))

    def metadata(self) -> dict[str, str]:
        return {"origin": self.kind, "channel": self.channel, "response_url": self.response_url}

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> Origin:
        kinds: dict[str, Literal["home", "ephemeral", "message"]] = {
            "home": "home",
            "ephemeral": "ephemeral",
        }
        kind = kinds.get(meta.get("origin", ""), "message")
        return cls(kind, meta.get("channel", ""), meta.get("response_url", ""))


def register(
    app: AsyncApp,
    approvals: Approvals,
    home: Home,
    messenger: Messenger,
    keys: IdempotencyKeys,
) -> None:
    async def tell(origin: Origin, user: str, text: str) -> None:
        """A refusal or an error, for the clicker only."""
        if origin.kind == "home":
            await home.publish(user, notice=text)
        elif origin.response_url:
            await AsyncWebhookClient(origin.response_url).send(
                text=text, response_type="ephemeral", replace_original=False
            )
        else:
            await messenger.ephemeral(origin.channel or None, user, blocks.notice(text))

    async def done(origin: Origin, user: str, decided: Decided) -> None:
        """After a decision: the DM card was rewritten by the use case; refresh lists and Home."""
        if origin.kind == "home":
            await home.publish(user, notice=decided.confirmation)
        elif origin.kind == "ephemeral" and origin.response_url:
            card = blocks.approval_list(
                await approvals.pending_for(user), lead=decided.confirmation
            )
            await AsyncWebhookClient(origin.response_url).send(
                text=card.text, blocks=list(card.blocks), replace_original=True
            )

    async def safely(origin: Origin, user: str, what: str, exc: Exception) -> None:
        log.info("%s failed for %s: %r", what, user, exc)
        try:
            await tell(origin, user, explain(exc))
        except Exception:
            log.exception("could not tell %s why %s failed", user, what)

    @app.action("approval_open")
    async def open_in_servicenow(ack: AsyncAck) -> None:
        await ack()  # a link button: Slack opens the page, the app only acknowledges

    @app.action("approval_approve")
    async def approve(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        user, action = body["user"]["id"], body["actions"][0]
        # A retry of this very click (same action_ts) is dropped here; a second click reaches
        # the use case, which decides each version of the approval once.
        if not await keys.claim(f"click:{user}:approval_approve:{action.get('action_ts', '')}"):
            return
        origin = Origin.of(body)
        try:
            decided = await approvals.approve(user, str(action.get("value") or ""))
            if decided is not None:
                await done(origin, user, decided)
        except Exception as exc:
            await safely(origin, user, "approve", exc)

    @app.action("approval_reject")
    async def reject(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user, sys_id = body["user"]["id"], str(body["actions"][0].get("value") or "")
        origin = Origin.of(body)

        async def form() -> dict[str, Any]:
            # Refusals (not the approver, already decided) show in the modal itself.
            request = await approvals.check(user, sys_id)
            return blocks.reject_modal(request, origin.metadata())

        try:
            await open_modal(client, body["trigger_id"], "Reject approval", form())
        except Exception as exc:
            await safely(origin, user, "reject form", exc)

    @app.view("approval_reject")
    async def submit_reject(ack: AsyncAck, body: dict[str, Any]) -> None:
        reason = forms.text(forms.values(body), "reason")
        if not reason:
            await ack(
                response_action="errors",
                errors={"reason": "Say why you reject it: the requester will read it."},
            )
            return
        await ack()
        user, meta = body["user"]["id"], forms.metadata(body)
        origin = Origin.from_metadata(meta)
        key = f"view:{body['view']['id']}"
        if not await keys.claim(key):
            return
        try:
            decided = await approvals.reject(user, meta.get("sys_id", ""), reason)
            if decided is not None:
                await done(origin, user, decided)
        except Exception as exc:
            await keys.release(key)
            await safely(origin, user, "reject", exc)


async def list_pending(approvals: Approvals, user: str, respond: AsyncRespond) -> None:
    """`/incident approvals`: my pending approvals, ephemeral, with their buttons."""
    card = blocks.approval_list(await approvals.pending_for(user))
    await respond(text=card.text, blocks=list(card.blocks), response_type="ephemeral")
