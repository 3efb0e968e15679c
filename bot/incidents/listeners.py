"""Incident buttons, menus, forms and typeahead. Each does what the matching subcommand does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.incidents.cards import comment_modal, follow_confirmation, hold_modal, resolve_modal
from bot.incidents.commands import show_list
from bot.incidents.ids import IncidentId
from bot.incidents.parts import Parts
from bot.incidents.service import NewIncident
from bot.incidents.vocabulary import STEPS, HoldReason, Move
from bot.slack.interactions import Interaction
from bot.slack.kit import escape, option
from bot.slack.modals import open_modal

# Options must come back inside Slack's 3 s; answer an empty list rather than time out.
OPTIONS_DEADLINE = 2.5


def install(parts: Parts) -> None:
    incidents, on = parts.incidents, parts.interactions

    async def form(it: Interaction, title: str, view: Any) -> None:
        await open_modal(parts.slack, it.trigger_id or "", title, view)

    # -- buttons and menus ---------------------------------------------------------------------------

    async def assign_to_me(it: Interaction) -> None:
        await incidents.assign(it.user, it.record, "me")  # the feed rewrites every copy

    async def comment(it: Interaction) -> None:
        async def view() -> dict[str, Any]:
            return comment_modal(await incidents.get(it.record), public=True, carry=it.carry())

        await form(it, "Comment", view())

    async def resolve_form(it: Interaction) -> None:
        async def view() -> dict[str, Any]:
            incident, codes = await incidents.get(it.record), await incidents.close_codes()
            return resolve_modal(incident, codes, it.carry())

        await form(it, "Resolve", view())

    async def hold_form(it: Interaction) -> None:
        async def view() -> dict[str, Any]:
            return hold_modal(await incidents.get(it.record), it.carry())

        await form(it, "On hold", view())

    def chosen_move(it: Interaction) -> Move | None:
        target = it.value.partition(":")[2]
        return Move(target) if target in Move._value2member_map_ else None

    def direct_move(it: Interaction) -> bool:
        move = chosen_move(it)
        return move is not None and not STEPS[move].needs_form

    async def change_state(it: Interaction) -> None:
        move = chosen_move(it)
        if move == Move.HOLD:
            await hold_form(it)
        elif move == Move.RESOLVE:
            await resolve_form(it)
        elif move is not None:
            await incidents.move(it.user, it.record, move)

    async def following(it: Interaction, follow: bool) -> str | None:
        # States what the person wants, never a toggle: a double click or a retry is the same.
        person = await parts.identity.person(it.user)
        if follow:
            await parts.followers.follow(
                "incident", it.record, person.slack_user_id, person.sys_user_id
            )
        else:
            await parts.followers.unfollow("incident", it.record, person.slack_user_id)
        incident = await incidents.get(it.record)
        confirmation = follow_confirmation(incident, follow)
        if it.origin == "home":
            return confirmation.text
        await parts.interactions.reply(it, confirmation, replace=it.origin == "ephemeral")
        return None

    async def follow(it: Interaction) -> str | None:
        return await following(it, True)

    async def unfollow(it: Interaction) -> str | None:
        return await following(it, False)

    async def reopen(it: Interaction) -> str:
        changed = await incidents.reopen(it.user, it.record)
        return f":leftwards_arrow_with_hook: Reopened {escape(changed.number)}; it is In Progress again."

    async def post(it: Interaction) -> str | None:
        incident, card = await incidents.render(it.record)
        if not it.channel:
            return None
        return await incidents.post(it.channel, incident, card, for_user=it.user)

    async def list_page(it: Interaction) -> None:
        scope, _, page = it.value.partition(":")
        await show_list(parts, it, scope, int(page) if page.isdecimal() else 1, replace=True)

    on.on_link(IncidentId.OPEN)
    on.on_action(IncidentId.ASSIGN_ME, assign_to_me, once=True)
    on.on_action(IncidentId.COMMENT, comment)
    on.on_action(IncidentId.RESOLVE, resolve_form)
    on.on_action(IncidentId.STATE, change_state, once=direct_move)
    on.on_action(IncidentId.FOLLOW, follow)
    on.on_action(IncidentId.UNFOLLOW, unfollow)
    on.on_action(IncidentId.REOPEN, reopen, once=True)
    on.on_action(IncidentId.POST, post)
    on.on_action(IncidentId.LIST_PAGE, list_page)

    # -- forms -----------------------------------------------------------------------------------------

    def create_errors(it: Interaction) -> Mapping[str, str]:
        return (
            {}
            if it.text("short_description")
            else {"short_description": "Say in a line what is wrong."}
        )

    async def create(it: Interaction) -> str | None:
        new = NewIncident(
            short_description=it.text("short_description"),
            description=it.text("description"),
            impact=it.selected("impact") or "3",
            urgency=it.selected("urgency") or "3",
            category=it.selected("category"),
            assignment_group=it.selected("assignment_group", IncidentId.GROUP_OPTIONS),
        )
        created = await incidents.create(it.user, new, correlation_id=f"slack-view:{it.view_id}")
        return await incidents.post(
            it.channel or it.user, created.incident, created.card, for_user=it.user
        )

    def comment_errors(it: Interaction) -> Mapping[str, str]:
        return {} if it.text("text") else {"text": "Write something first."}

    async def add_comment(it: Interaction) -> None:
        public = bool(it.metadata.get("public"))
        await incidents.comment(it.user, it.metadata["sys_id"], it.text("text"), public=public)

    def resolve_errors(it: Interaction) -> Mapping[str, str]:
        errors = {}
        if not it.selected("close_code"):
            errors["close_code"] = "Choose a resolution code."
        if not it.text("close_notes"):
            errors["close_notes"] = "Say how it was resolved."
        return errors

    async def resolve(it: Interaction) -> None:
        code, notes = it.selected("close_code"), it.text("close_notes")
        await incidents.resolve(it.user, it.metadata["sys_id"], code, notes)

    def hold_errors(it: Interaction) -> Mapping[str, str]:
        if it.selected("hold_reason") == HoldReason.CALLER and not it.text("text"):
            return {"text": "Tell the caller what you need from them."}
        return {}

    async def hold(it: Interaction) -> None:
        reason, text = it.selected("hold_reason"), it.text("text")
        await incidents.hold(it.user, it.metadata["sys_id"], reason, text)

    on.on_view(IncidentId.CREATE_FORM, create_errors, create)
    on.on_view(IncidentId.COMMENT_FORM, comment_errors, add_comment)
    on.on_view(IncidentId.RESOLVE_FORM, resolve_errors, resolve)
    on.on_view(IncidentId.HOLD_FORM, hold_errors, hold)

    # -- typeahead -------------------------------------------------------------------------------------

    async def groups(text: str) -> list[dict[str, Any]]:
        return [option(group.name, group.sys_id) for group in await incidents.groups_matching(text)]

    on.on_options(IncidentId.GROUP_OPTIONS, groups, OPTIONS_DEADLINE)
