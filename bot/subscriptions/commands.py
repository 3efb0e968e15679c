"""`/incident subscribe` (the form) and `/incident subscriptions` (this channel's, with Edit and
Delete)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.commands.router import Help, Subcommand, Words
from bot.permissions import Action, Grant, Need
from bot.slack.interactions import Interaction
from bot.slack.modals import open_modal
from bot.subscriptions.cards import subscribe_modal, subscription_list
from bot.subscriptions.service import ChannelSubscriptions


@dataclass(frozen=True)
class Subscribe:
    table: str | None  # a kind named on the line ("incident", "incidents"), else the first


@dataclass(frozen=True)
class ListSubscriptions:
    pass


def _subscribe(words: Words) -> Subscribe | Help:
    if len(words.args) > 1:
        return Help("`subscribe` takes at most a record kind, e.g. `/incident subscribe`")
    return Subscribe(words.args[0].lower() if words.args else None)


def _list(words: Words) -> ListSubscriptions | Help:
    if words.args:
        return Help("`subscriptions` takes nothing: it lists this channel's")
    return ListSubscriptions()


def _account(_: ChannelSubscriptions, __: Any) -> Need[None]:
    return Need(Action.LIST)


async def open_form(
    subs: ChannelSubscriptions, it: Interaction, table: str | None, existing: Any = None
) -> None:
    """Open the form inside the trigger's 3 s; membership and choices fill it ("Loading…")."""
    kinds = subs.kinds
    kind = next(
        (k for k in kinds if table and table.rstrip("s") in (k.table, k.label.lower().rstrip("s"))),
        kinds[0] if kinds else None,
    )
    channel = existing.channel if existing else it.channel or ""

    async def form() -> dict[str, Any]:
        if kind is None:
            raise RuntimeError("no record kind offers subscriptions")
        await subs.require_member(channel, it.user)
        options = await subs.options(kind)
        return subscribe_modal(kind, kinds, options, channel=channel, existing=existing)

    await open_modal(
        subs.slack, it.trigger_id or "", "Subscription" if existing else "Subscribe", form()
    )


async def _run_subscribe(
    subs: ChannelSubscriptions, it: Interaction, request: Subscribe, _: Grant[None]
) -> None:
    await open_form(subs, it, request.table)


async def _run_list(
    subs: ChannelSubscriptions, it: Interaction, _: ListSubscriptions, __: Grant[None]
) -> None:
    rules = await subs.store.in_channel(it.channel or "")
    await subs.interactions.reply(
        it, subscription_list(it.channel or "", rules, subs.channels.kinds)
    )


SUBCOMMANDS: tuple[Subcommand[ChannelSubscriptions, Any], ...] = (
    Subcommand(
        ("subscribe",),
        ("`/incident subscribe` — cards of matching records in this channel (a form)",),
        _subscribe,
        _run_subscribe,
        _account,
    ),
    Subcommand(
        ("subscriptions",),
        ("`/incident subscriptions` — this channel's subscriptions, to edit or delete",),
        _list,
        _run_list,
        _account,
    ),
)
