"""Incident buttons, menus, forms and typeahead. Each does what the matching subcommand does."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.incidents.cards import comment_modal, follow_confirmation, hold_modal, resolve_modal
from bot.incidents.commands import show_list
from bot.incidents.ids import IncidentId
from bot.incidents.parts import Parts
from bot.incidents.service import MOVE_ACTIONS, NewIncident
from bot.incidents.vocabulary import STEPS, HoldReason, Move
from bot.permissions import Action, Grant, Need
from bot.slack.interactions import Interaction
from bot.slack.kit import escape, option
from bot.slack.modals import open_modal
from servicenow.records import Incident

# Options must come back inside Slack's 3 s; answer an empty list rather than time out.
OPTIONS_DEADLINE = 2.5


def install(parts: Parts) -> None:
    incidents, on = parts.incidents, parts.interactions

    # What each entry needs: the action, on the incident its button (or form) is about.
    def on_card(action: Action) -> Callable[[Interaction], Need[Incident]]:
        return lambda it: incidents.by_sys_id(action, it.record)

    def in_form(action: Action) -> Callable[[Interaction], Need[Incident]]:
        return lambda it: incidents.by_sys_id(action, it.metadata.get("sys_id", ""))

    def account(it: Interaction) -> Need[None]:
        return Need(Action.LIST)

    # -- buttons and menus ---------------------------------------------------------------------------

    async def assign_to_me(it: Interaction, grant: Grant[Incident]) -> None:
        await incidents.assign(grant.person, grant.record, "me")  # the feed rewrites every copy

    async def comment(it: Interaction, grant: Grant[Incident]) -> dict[str, Any]:
        return comment_modal(grant.record, public=True, carry=it.carry())

    async def resolve_view(it: Interaction, grant: Grant[Incident]) -> dict[str, Any]:
        return resolve_modal(grant.record, await incidents.close_codes(), it.carry())

    async def hold_view(it: Interaction, grant: Grant[Incident]) -> dict[str, Any]:
        return hold_modal(grant.record, it.carry())

    def chosen_move(it: Interaction) -> Move | None:
        target = it.value.partition(":")[2]
        return Move(target) if target in Move._value2member_map_ else None

    def direct_move(it: Interaction) -> bool:
        move = chosen_move(it)
        return move is not None and not STEPS[move].needs_form

    def move_need(it: Interaction) -> Need[Incident]:
        move = chosen_move(it)
        return incidents.by_sys_id(MOVE_ACTIONS[move] if move else Action.READ, it.record)

    async def change_state(it: Interaction, grant: Grant[Incident]) -> None:
        move = chosen_move(it)
        if move == Move.HOLD:
            await open_modal(parts.slack, it.trigger_id or "", "On hold", hold_view(it, grant))
        elif move == Move.RESOLVE:
            await open_modal(parts.slack, it.trigger_id or "", "Resolve", resolve_view(it, grant))
        elif move is not None:
            await incidents.move(grant.person, grant.record, move)

    async def following(it: Interaction, grant: Grant[Incident], follow: bool) -> str | None:
        # States what the person wants, never a toggle: a double click or a retry is the same.
        person, incident = grant.person, grant.record
        if follow:
            await parts.followers.follow(
                "incident", incident.sys_id, person.slack_user_id, person.sys_user_id
            )
        else:
            await parts.followers.unfollow("incident", incident.sys_id, person.slack_user_id)
        confirmation = follow_confirmation(incident, follow)
        if it.origin == "home":
            return confirmation.text
        await parts.interactions.reply(it, confirmation, replace=it.origin == "ephemeral")
        return None

    async def follow(it: Interaction, grant: Grant[Incident]) -> str | None:
        return await following(it, grant, True)

    async def unfollow(it: Interaction, grant: Grant[Incident]) -> str | None:
        return await following(it, grant, False)

    async def reopen(it: Interaction, grant: Grant[Incident]) -> str:
        changed = await incidents.reopen(grant.person, grant.record)
        return f":leftwards_arrow_with_hook: Reopened {escape(changed.number)}; it is In Progress again."

    async def post(it: Interaction, grant: Grant[Incident]) -> str | None:
        incident, card = await incidents.render(grant.record.sys_id, grant.record)
        if not it.channel:
            return None
        return await incidents.post(it.channel, incident, card, for_user=it.user)

    async def list_page(it: Interaction, grant: Grant[None]) -> None:
        scope, _, page = it.value.partition(":")
        number = int(page) if page.isdecimal() else 1
        await show_list(parts, it, grant.person, scope, number, replace=True)

    on.on_link(IncidentId.OPEN)
    on.on_action(IncidentId.ASSIGN_ME, assign_to_me, need=on_card(Action.ASSIGN), once=True)
    on.on_form(IncidentId.COMMENT, "Comment", comment, need=on_card(Action.COMMENT))
    on.on_form(IncidentId.RESOLVE, "Resolve", resolve_view, need=on_card(Action.RESOLVE))
    on.on_action(IncidentId.STATE, change_state, need=move_need, once=direct_move)
    on.on_action(IncidentId.FOLLOW, follow, need=on_card(Action.READ))
    on.on_action(IncidentId.UNFOLLOW, unfollow, need=on_card(Action.READ))
    on.on_action(IncidentId.REOPEN, reopen, need=on_card(Action.REOPEN), once=True)
    on.on_action(IncidentId.POST, post, need=on_card(Action.READ))
    on.on_action(IncidentId.LIST_PAGE, list_page, need=account)

    # -- forms -----------------------------------------------------------------------------------------

    def create_errors(it: Interaction) -> Mapping[str, str]:
        return (
            {}
            if it.text("short_description")
            else {"short_description": "Say in a line what is wrong."}
        )

    async def create(it: Interaction, grant: Grant[None]) -> str | None:
        new = NewIncident(
            short_description=it.text("short_description"),
            description=it.text("description"),
            impact=it.selected("impact") or "3",
            urgency=it.selected("urgency") or "3",
            category=it.selected("category"),
            assignment_group=it.selected("assignment_group", IncidentId.GROUP_OPTIONS),
        )
        question = await parts.opening.open(
            it,
            grant.person,
            new,
            correlation_id=f"slack-view:{it.view_id}",
            post_to=it.channel or it.user,
        )
        if question is not None:  # similar open incidents: asked only of the person
            await parts.interactions.reply(it, question)
        return None

    def comment_errors(it: Interaction) -> Mapping[str, str]:
        return {} if it.text("text") else {"text": "Write something first."}

    def comment_need(it: Interaction) -> Need[Incident]:
        action = Action.COMMENT if it.metadata.get("public") else Action.WORK_NOTE
        return incidents.by_sys_id(action, it.metadata.get("sys_id", ""))

    async def add_comment(it: Interaction, grant: Grant[Incident]) -> None:
        public = bool(it.metadata.get("public"))
        await incidents.comment(grant.person, grant.record, it.text("text"), public=public)

    def resolve_errors(it: Interaction) -> Mapping[str, str]:
        errors = {}
        if not it.selected("close_code"):
            errors["close_code"] = "Choose a resolution code."
        if not it.text("close_notes"):
            errors["close_notes"] = "Say how it was resolved."
        return errors

    async def resolve(it: Interaction, grant: Grant[Incident]) -> None:
        code, notes = it.selected("close_code"), it.text("close_notes")
        await incidents.resolve(grant.person, grant.record, code, notes)

    def hold_errors(it: Interaction) -> Mapping[str, str]:
        if it.selected("hold_reason") == HoldReason.CALLER and not it.text("text"):
            return {"text": "Tell the caller what you need from them."}
        return {}

    async def hold(it: Interaction, grant: Grant[Incident]) -> None:
        reason, text = it.selected("hold_reason"), it.text("text")
        await incidents.hold(grant.person, grant.record, reason, text)

    def create_need(it: Interaction) -> Need[None]:
        return Need(Action.CREATE)

    on.on_view(IncidentId.CREATE_FORM, create_errors, create, need=create_need)
    on.on_view(IncidentId.COMMENT_FORM, comment_errors, add_comment, need=comment_need)
    on.on_view(IncidentId.RESOLVE_FORM, resolve_errors, resolve, need=in_form(Action.RESOLVE))
    on.on_view(IncidentId.HOLD_FORM, hold_errors, hold, need=in_form(Action.HOLD))

    # -- typeahead -------------------------------------------------------------------------------------

    async def groups(text: str) -> list[dict[str, Any]]:
        return [option(group.name, group.sys_id) for group in await incidents.groups_matching(text)]

    on.on_options(IncidentId.GROUP_OPTIONS, groups, OPTIONS_DEADLINE)
