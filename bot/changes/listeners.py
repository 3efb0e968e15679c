"""A change's own button: My approval (to an approver, their approval; to anyone else, why not)."""

from __future__ import annotations

from bot.changes.kind import APPROVAL_ACTION
from bot.permissions import Action, Grant, Need
from bot.records.kind import Record
from bot.records.parts import RecordParts
from bot.slack.interactions import Interaction
from bot.slack.kit import escape, link
from servicenow.query import Query, validate_sys_id


def install(parts: RecordParts) -> None:
    records = parts.records

    def need(it: Interaction) -> Need[Record]:
        return records.by_sys_id(Action.READ, it.record)

    async def my_approval(it: Interaction, grant: Grant[Record]) -> str:
        change, person = grant.record, grant.person
        number = escape(change.get("number", ""))
        found = await records.client_for(person).list(
            "sysapproval_approver",
            Query()
            .eq("sysapproval", validate_sys_id(change.get("sys_id", "")))
            .eq("approver", validate_sys_id(person.sys_user_id)),
            fields=("sys_id", "state"),
            limit=1,
        )
        if not found.records:
            return f"You aren't an approver of {number}."
        approval = found.records[0]
        url = records.url(approval.get("sys_id", ""), "sysapproval_approver")
        if approval.get("state") != "requested":
            return f"Your approval of {number} is {escape(approval.get('state', ''))} already: {link(url, 'see it')}."
        return (
            f":ballot_box_with_check: {number} waits for your approval: {link(url, 'open it in ServiceNow')}, "
            "or use Approve / Reject in the DM I sent you."
        )

    parts.interactions.on_action(APPROVAL_ACTION, my_approval, need=need)
