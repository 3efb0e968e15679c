"""The subcommands every record kind has: look-up by number (`show`), follow, unfollow, comment.

`record_subcommands(kind)` makes them for one kind: each answers only to its kind's numbers
(`/incident RITM0000001`, `show CHG…`, `follow PRB…`), so the router hands a number to the kind
it belongs to, and a number that is nobody's gets the usage back before any query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.commands.router import Help, Subcommand, Words
from bot.permissions import Action, Grant, Need
from bot.records.cards import follow_confirmation
from bot.records.kind import Kind, Record
from bot.records.parts import RecordParts
from bot.slack.interactions import Interaction
from bot.slack.kit import Card, escape

DONE = ":white_check_mark:"


@dataclass(frozen=True)
class Show:
    number: str


@dataclass(frozen=True)
class Follow:
    number: str
    follow: bool


@dataclass(frozen=True)
class AddComment:
    number: str
    text: str


def _show(kind: Kind) -> Callable[[Words], Show | Help]:
    def parse(words: Words) -> Show | Help:
        if kind.number.match(words.keyword):
            if words.args:
                return Help(
                    f"Say what to do first, e.g. `/incident comment {words.keyword.upper()} <text>`"
                )
            return Show(words.keyword.upper())
        if len(words.args) == 1 and kind.number.match(words.args[0]):
            return Show(words.args[0].upper())
        return Help(
            f"`{words.keyword}` takes one record number, e.g. `/incident {words.keyword} {kind.example}`"
        )

    return parse


def _follow(kind: Kind) -> Callable[[Words], Follow | Help]:
    def parse(words: Words) -> Follow | Help:
        if len(words.args) == 1 and kind.number.match(words.args[0]):
            return Follow(words.args[0].upper(), words.keyword == "follow")
        return Help(
            f"`{words.keyword}` takes one record number, e.g. `/incident {words.keyword} {kind.example}`"
        )

    return parse


def _comment(kind: Kind) -> Callable[[Words], AddComment | Help]:
    def parse(words: Words) -> AddComment | Help:
        parts = words.text.split(None, 2)
        if len(parts) == 3 and kind.number.match(parts[1]):
            return AddComment(parts[1].upper(), parts[2].strip())
        return Help(f"`comment` takes a number and text: `/incident comment {kind.example} <text>`")

    return parse


def _on(action: Action) -> Callable[[RecordParts, Any], Need[Record]]:
    return lambda parts, request: parts.records.by_number(action, request.number)


async def _run_show(parts: RecordParts, it: Interaction, _: Show, grant: Grant[Record]) -> None:
    card = await parts.records.render(grant.record)
    await parts.records.post(it.channel or it.user, grant.record, card, for_user=it.user)


async def _run_follow(
    parts: RecordParts, it: Interaction, request: Follow, grant: Grant[Record]
) -> str:
    return (await following(parts, grant, request.follow)).text


async def following(parts: RecordParts, grant: Grant[Record], follow: bool) -> Card:
    """Follow or unfollow (what the person wants, never a toggle); the confirmation card."""
    table, record, person = parts.records.kind.table, grant.record, grant.person
    sys_id = record.get("sys_id", "")
    if follow:
        await parts.followers.follow(table, sys_id, person.slack_user_id, person.sys_user_id)
    else:
        await parts.followers.unfollow(table, sys_id, person.slack_user_id)
    return follow_confirmation(parts.records.kind, record.get("number", ""), sys_id, follow)


async def _run_comment(
    parts: RecordParts, it: Interaction, request: AddComment, grant: Grant[Record]
) -> str:
    changed = await parts.records.comment(grant.person, grant.record, request.text)
    return f"{DONE} Added your comment to {escape(changed.get('number', request.number))}."


def record_subcommands(kind: Kind) -> tuple[Subcommand[RecordParts, Any], ...]:
    label, example = kind.label, kind.example
    return (
        Subcommand(
            ("show",),
            (f"`/incident {example}` (or `show {kind.prefix}…`) — post the {label}'s card here",),
            _show(kind),
            _run_show,
            _on(Action.READ),
            number=kind.number,
        ),
        Subcommand(("follow", "unfollow"), (), _follow(kind), _run_follow, _on(Action.READ)),
        Subcommand(("comment",), (), _comment(kind), _run_comment, _on(Action.COMMENT)),
    )
