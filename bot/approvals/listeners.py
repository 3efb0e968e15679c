"""Approve / Reject buttons (DM card, `/incident approvals` list, Home tab) and the reject form.

The answer goes back where the click came from: the Home tab is republished with it, an ephemeral
list is replaced by the fresh one (a reject decided in the form opened from it: the fresh list comes
as a new ephemeral in the channel), and a DM card is rewritten in place by the change feed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals.cards import approval_list, reject_modal
from bot.approvals.ids import ApprovalId
from bot.approvals.service import Approvals, Decided
from bot.slack.interactions import Interaction, Interactions
from bot.slack.modals import open_modal


def install(interactions: Interactions, approvals: Approvals, slack: AsyncWebClient) -> None:
    async def answer(it: Interaction, decided: Decided | None) -> str | None:
        """None: another click on this version is deciding it; nothing to say."""
        if decided is None:
            return None
        if it.origin == "home":
            return decided.confirmation
        if it.origin == "ephemeral":
            card = approval_list(await approvals.pending_for(it.user), lead=decided.confirmation)
            # A button on the list has its signed response_url; the reject form has none.
            await interactions.reply(it, card, replace=bool(it.response_url))
        return None  # a DM card: the feed rewrites it to show the outcome

    async def approve(it: Interaction) -> str | None:
        return await answer(it, await approvals.approve(it.user, it.value))

    async def reject_form(it: Interaction) -> None:
        async def view() -> dict[str, Any]:
            # Refusals (not the approver, already decided) show in the modal itself.
            return reject_modal(await approvals.check(it.user, it.value), it.carry())

        await open_modal(slack, it.trigger_id or "", "Reject approval", view())

    def reason_missing(it: Interaction) -> Mapping[str, str]:
        if it.text("reason"):
            return {}
        return {"reason": "Say why you reject it: the requester will read it."}

    async def reject(it: Interaction) -> str | None:
        decided = await approvals.reject(it.user, it.metadata.get("sys_id", ""), it.text("reason"))
        return await answer(it, decided)

    interactions.on_link(ApprovalId.OPEN)
    # A repeat of this very click is dropped by the interaction path; a second click elsewhere
    # (the DM and the Home tab) reaches the service, which decides each version once.
    interactions.on_action(ApprovalId.APPROVE, approve, once=True)
    interactions.on_action(ApprovalId.REJECT, reject_form)
    interactions.on_view(ApprovalId.REJECT_FORM, reason_missing, reject)
