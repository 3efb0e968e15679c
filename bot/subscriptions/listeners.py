"""The subscription form's submission, its kind menu, and Edit / Delete on the channel's list."""

from __future__ import annotations

from collections.abc import Mapping

from bot.feed.filters import Subscribable
from bot.permissions import Action, Grant, Need
from bot.slack.interactions import Interaction
from bot.subscriptions.cards import subscribe_modal
from bot.subscriptions.commands import open_form
from bot.subscriptions.ids import (
    EVENTS_BLOCK,
    FILTER_PREFIX,
    FLAGS_BLOCK,
    HISTORY_BLOCK,
    SubscriptionId,
)
from bot.subscriptions.service import ChannelSubscriptions, Draft, NotHere
from storage.subscriptions import StoredSubscription


def chosen(it: Interaction, block_id: str) -> list[tuple[str, str]]:
    """A multi-select's or checkboxes' chosen (value, label) pairs in a submitted view."""
    state = it.values.get(block_id, {}).get("value", {})
    picked = state.get("selected_options") if isinstance(state, Mapping) else None
    found: list[tuple[str, str]] = []
    for item in picked if isinstance(picked, list) else []:
        if isinstance(item, Mapping) and isinstance(item.get("value"), str):
            text = item.get("text")
            label = text.get("text", "") if isinstance(text, Mapping) else ""
            found.append((item["value"], str(label)))
    return found


def draft_of(kind: Subscribable, it: Interaction) -> Draft:
    """The form as submitted: events, filters (values, and labels for people), history."""
    known = {e.value for e in kind.events}
    events = tuple(v for v, _ in chosen(it, EVENTS_BLOCK) if v in known)
    filters: dict[str, list[str]] = {}
    summary: list[str] = []
    for field in kind.filters:
        picked = chosen(it, FILTER_PREFIX + field.field)
        if picked:
            filters[field.field] = [v for v, _ in picked]
            summary.append(f"{field.label}: {', '.join(label or v for v, label in picked)}")
    flags = {v for v, _ in chosen(it, FLAGS_BLOCK)}
    for flag in kind.flags:
        if flag.key in flags:
            filters[flag.key] = ["yes"]
            summary.append(flag.label)
    history = any(v == "thread" for v, _ in chosen(it, HISTORY_BLOCK))
    return Draft(
        it.metadata.get("channel", ""), kind.table, events, filters, history, "; ".join(summary)
    )


def install(subs: ChannelSubscriptions) -> None:
    on = subs.interactions

    def account(_: Interaction) -> Need[None]:
        return Need(Action.LIST)

    def check(it: Interaction) -> dict[str, str]:
        kind = subs.kind(it.metadata.get("table", ""))
        if kind is None:
            return {EVENTS_BLOCK: "This kind of record can't be subscribed to any more."}
        if not draft_of(kind, it).events:
            return {EVENTS_BLOCK: "Choose at least one event."}
        return {}

    async def saved(it: Interaction, grant: Grant[None]) -> str:
        kind = subs.kind(it.metadata.get("table", ""))
        if kind is None:
            return "This kind of record can't be subscribed to any more."
        draft = draft_of(kind, it)
        existing = await _existing(it.metadata.get("id", ""))
        channel = existing.channel if existing else draft.channel
        await subs.require_member(channel, grant.person.slack_user_id)
        await subs.require_reader(grant.person, kind, draft)
        if existing is None:
            await subs.create(grant.person, draft)
            return f":white_check_mark: Subscribed <#{channel}>."
        await subs.change(grant.person, existing, draft)
        return f":white_check_mark: Changed the subscription of <#{channel}>."

    async def _existing(raw: str) -> StoredSubscription | None:
        if not raw:
            return None
        if not raw.isdecimal():
            raise NotHere("That subscription doesn't exist any more.")
        rule = await subs.store.get(int(raw))
        if rule is None:
            raise NotHere("That subscription doesn't exist any more (it was deleted).")
        return rule

    async def edit(it: Interaction, grant: Grant[None]) -> None:
        rule = await _existing(it.value)
        await open_form(subs, it, rule.table if rule else None, existing=rule)

    async def delete(it: Interaction, grant: Grant[None]) -> str:
        rule = await _existing(it.value)
        assert rule is not None
        await subs.require_member(rule.channel, grant.person.slack_user_id)
        await subs.delete(grant.person, rule)
        return f":wastebasket: Deleted the subscription of <#{rule.channel}>."

    async def switch_kind(it: Interaction, grant: Grant[None]) -> None:
        table, _, channel = it.value.partition(":")  # the option's value: <table>:<channel>
        kind = subs.kind(table)
        if kind is None or not it.view_id:
            return
        options = await subs.options(kind)
        await subs.slack.views_update(
            view_id=it.view_id,
            view=subscribe_modal(kind, subs.kinds, options, channel=channel),
        )

    on.on_view(SubscriptionId.FORM, check, saved, need=account)
    on.on_action(SubscriptionId.EDIT, edit, need=account)
    on.on_action(SubscriptionId.DELETE, delete, need=account, once=True)
    on.on_action(SubscriptionId.KIND, switch_kind, need=account)
