"""The buttons and forms every record kind shares, registered once for all kinds.

Values carry `<sys_id>:<table>`, so one listener finds the kind in `Kinds` and acts as that
kind's subcommand would (Follow, Unfollow, Comment, Post card).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.permissions import Action, Grant, Need
from bot.records.cards import comment_modal
from bot.records.commands import following
from bot.records.ids import RecordId, table_of
from bot.records.kind import Record
from bot.records.parts import RecordParts
from bot.records.registry import Kinds
from bot.records.service import RecordProblem
from bot.slack.interactions import Interaction, Interactions
from storage import Followers, NotificationSettings


@dataclass(frozen=True)
class Shared:
    """What the shared listeners need: the kinds, and the stores every kind shares."""

    kinds: Kinds
    interactions: Interactions
    followers: Followers
    notifications: NotificationSettings

    def of(self, table: str) -> RecordParts:
        records = self.kinds.get(table)
        if records is None:
            raise RecordProblem("That button belongs to a kind of record I don't know.")
        return RecordParts(records, self.interactions, self.followers, self.notifications)


def install(shared: Shared) -> None:
    on = shared.interactions

    def on_card(action: Action) -> Callable[[Interaction], Need[Record]]:
        def need(it: Interaction) -> Need[Record]:
            return shared.of(table_of(it.value)).records.by_sys_id(action, it.record)

        return need

    def in_form(action: Action) -> Callable[[Interaction], Need[Record]]:
        def need(it: Interaction) -> Need[Record]:
            records = shared.of(it.metadata.get("table", "")).records
            return records.by_sys_id(action, it.metadata.get("sys_id", ""))

        return need

    async def follow_or_not(it: Interaction, grant: Grant[Record], follow: bool) -> str | None:
        confirmation = await following(shared.of(table_of(it.value)), grant, follow)
        if it.origin == "home":
            return str(confirmation.text)
        await on.reply(it, confirmation, replace=it.origin == "ephemeral")
        return None

    async def follow(it: Interaction, grant: Grant[Record]) -> str | None:
        return await follow_or_not(it, grant, True)

    async def unfollow(it: Interaction, grant: Grant[Record]) -> str | None:
        return await follow_or_not(it, grant, False)

    async def comment_form(it: Interaction, grant: Grant[Record]) -> dict[str, Any]:
        records = shared.of(table_of(it.value)).records
        view = await records.view(grant.record, read_comment=False)
        return comment_modal(records.kind, view, it.carry())

    def comment_errors(it: Interaction) -> Mapping[str, str]:
        return {} if it.text("text") else {"text": "Write something first."}

    async def add_comment(it: Interaction, grant: Grant[Record]) -> None:
        records = shared.of(it.metadata.get("table", "")).records
        await records.comment(grant.person, grant.record, it.text("text"))

    async def post(it: Interaction, grant: Grant[Record]) -> None:
        if not it.channel:
            return
        records = shared.of(table_of(it.value)).records
        card = await records.render(grant.record)
        await records.post(it.channel, grant.record, card, for_user=it.user)

    on.on_link(RecordId.OPEN)
    on.on_action(RecordId.FOLLOW, follow, need=on_card(Action.READ))
    on.on_action(RecordId.UNFOLLOW, unfollow, need=on_card(Action.READ))
    on.on_form(RecordId.COMMENT, "Comment", comment_form, need=on_card(Action.COMMENT))
    on.on_view(RecordId.COMMENT_FORM, comment_errors, add_comment, need=in_form(Action.COMMENT))
    on.on_action(RecordId.POST, post, need=on_card(Action.READ))
