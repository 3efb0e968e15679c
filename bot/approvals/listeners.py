"""Approve / Reject buttons (DM card, `/incident approvals` list, Home tab) and the reject form.

The answer goes back where the click came from: the Home tab is republished with it, an ephemeral
list is replaced by the fresh one (a reject decided in the form opened from it: the fresh list comes
as a new ephemeral in the channel), and a DM card is rewritten in place by the change feed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.approvals.cards import approval_list, reject_modal
from bot.approvals.ids import ApprovalId
from bot.approvals.service import Approvals, Decided
from bot.permissions import Grant, Need
from bot.slack.interactions import Interaction, Interactions


def install(interactions: Interactions, approvals: Approvals) -> None:
    async def answer(
        it: Interaction, person: Grant[dict[str, str]], decided: Decided | None
    ) -> str | None:
        """None: another click on this version is deciding it; nothing to say."""
        if decided is None:
            return None
        if it.origin == "home":
            return decided.confirmation
        if it.origin == "ephemeral":
            pending = await approvals.pending_for(person.person)
            card = approval_list(pending, lead=decided.confirmation)
            # A button on the list has its signed response_url; the reject form has none.
            await interactions.reply(it, card, replace=bool(it.response_url))
        return None  # a DM card: the feed rewrites it to show the outcome

    def on_button(it: Interaction) -> Need[dict[str, str]]:
        return approvals.by_sys_id(it.value)

    def in_form(it: Interaction) -> Need[dict[str, str]]:
        return approvals.by_sys_id(it.metadata.get("sys_id", ""))

    async def approve(it: Interaction, grant: Grant[dict[str, str]]) -> str | None:
        return await answer(it, grant, await approvals.approve(grant.person, grant.record))

    async def reject_form(it: Interaction, grant: Grant[dict[str, str]]) -> dict[str, Any]:
        # Refusals (not the approver, already decided) show in the modal itself.
        return reject_modal(await approvals.check(grant.person, grant.record), it.carry())

    def reason_missing(it: Interaction) -> Mapping[str, str]:
        if it.text("reason"):
            return {}
        return {"reason": "Say why you reject it: the requester will read it."}

    async def reject(it: Interaction, grant: Grant[dict[str, str]]) -> str | None:
        decided = await approvals.reject(grant.person, grant.record, it.text("reason"))
        return await answer(it, grant, decided)

    interactions.on_link(ApprovalId.OPEN)
    interactions.on_link(ApprovalId.SIGN)
    # A repeat of this very click is dropped by the interaction path; a second click elsewhere
    # (the DM and the Home tab) reaches the service, which decides each version once.
    interactions.on_action(ApprovalId.APPROVE, approve, need=on_button, once=True)
    interactions.on_form(ApprovalId.REJECT, "Reject approval", reject_form, need=on_button)
    interactions.on_view(ApprovalId.REJECT_FORM, reason_missing, reject, need=in_form)
