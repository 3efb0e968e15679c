"""The incident subcommands of `/incident`: one entry each (words, help, parser, work).

Parsers are pure and forgiving (any case, extra spaces, `inc0010001`, `<@U123|name>` or `me`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from bot.commands.router import Help, Subcommand, Words
from bot.identity import Person
from bot.incidents.cards import create_modal, follow_confirmation, incident_list, resolve_modal
from bot.incidents.parts import Parts
from bot.incidents.service import NewIncident, split_description
from bot.incidents.vocabulary import HoldReason
from bot.permissions import Action, Grant, Need
from bot.slack.interactions import Interaction
from bot.slack.kit import escape
from bot.slack.modals import open_modal
from servicenow.records import Incident

NUMBER = re.compile(r"^INC\d{7}$", re.IGNORECASE)
MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
DONE = ":white_check_mark:"

_OneNumber = TypeVar("_OneNumber", "Show", "Resolve", "Close", "Reopen", "Follow", "Unfollow")
_Change = Callable[[Any, Incident], Awaitable[Incident]]


# -- requests --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bare:
    """`/incident` alone: the create modal."""


@dataclass(frozen=True)
class Create:
    text: str


@dataclass(frozen=True)
class Show:
    number: str


ListScope = Literal["mine", "assigned", "group"]


@dataclass(frozen=True)
class ListIncidents:
    scope: ListScope = "mine"
    page: int = 1


@dataclass(frozen=True)
class Assign:
    number: str
    assignee: str  # "me" or a Slack user id


@dataclass(frozen=True)
class Comment:
    number: str
    text: str
    public: bool  # comments are customer-visible; work notes are not


@dataclass(frozen=True)
class Resolve:
    number: str


@dataclass(frozen=True)
class Close:
    number: str


@dataclass(frozen=True)
class Reopen:
    number: str


@dataclass(frozen=True)
class Follow:
    number: str


@dataclass(frozen=True)
class Unfollow:
    number: str


@dataclass(frozen=True)
class Hold:
    number: str
    reason: HoldReason
    text: str


@dataclass(frozen=True)
class Notify:
    enabled: bool


# -- parsers ---------------------------------------------------------------------------------------


def _bare(_: Words) -> Bare:
    return Bare()


def _create(words: Words) -> Create | Help:
    if words.keyword == "new":
        if not words.rest:
            return Help("`new` needs a description: `/incident new <what is wrong>`")
        return Create(words.rest)
    return Create(words.text)


def _show(words: Words) -> Show | Help:
    if NUMBER.match(words.keyword):
        if words.args:
            number = words.keyword.upper()
            return Help(f"Say what to do first, e.g. `/incident comment {number} <text>`")
        return Show(words.keyword.upper())
    return _one_number(Show, words)


def _one_number(kind: type[_OneNumber], words: Words) -> _OneNumber | Help:
    if len(words.args) != 1 or not NUMBER.match(words.args[0]):
        return Help(
            f"`{words.keyword}` takes one incident number, e.g. `/incident {words.keyword} INC0010001`"
        )
    return kind(words.args[0].upper())


def _list(words: Words) -> ListIncidents | Help:
    scope: ListScope = "mine"
    page = 1
    rest = [a.lower() for a in words.args]
    if rest and rest[0] in ("mine", "assigned", "group"):
        scope = rest.pop(0)  # type: ignore[assignment]
    if rest and rest[0] == "page" and len(rest) == 2 and rest[1].isdecimal() and int(rest[1]) >= 1:
        page = int(rest.pop(1))
        rest.pop(0)
    if rest:
        return Help("`list` takes `assigned`, `group` or nothing, e.g. `/incident list assigned`")
    return ListIncidents(scope, page)


def _assign(words: Words) -> Assign | Help:
    usage = "`assign` takes a number and a person: `/incident assign INC0010001 @someone` (or `me`)"
    args = words.args
    if len(args) != 2 or not NUMBER.match(args[0]):
        return Help(usage)
    if args[1].lower() == "me":
        return Assign(args[0].upper(), "me")
    mention = MENTION.match(args[1])
    return Assign(args[0].upper(), mention.group(1)) if mention else Help(usage)


def _comment(words: Words) -> Comment | Help:
    parts = words.text.split(None, 2)
    if len(parts) < 3 or not NUMBER.match(parts[1]):
        keyword = words.keyword
        return Help(f"`{keyword}` takes a number and text: `/incident {keyword} INC0010001 <text>`")
    return Comment(parts[1].upper(), parts[2].strip(), public=words.keyword == "comment")


def _hold(words: Words) -> Hold | Help:
    reasons = ", ".join(f"`{reason.word}`" for reason in HoldReason)
    usage = f"`hold` takes a number and a reason ({reasons}): `/incident hold INC0010001 vendor waiting for parts`"
    parts = words.text.split(None, 3)
    if len(parts) < 3 or not NUMBER.match(parts[1]):
        return Help(usage)
    word = parts[2].lower()
    if word == "awaiting" and len(parts) == 4:
        word, _, rest = parts[3].partition(" ")
        extra = rest.strip()
    else:
        extra = parts[3].strip() if len(parts) == 4 else ""
    reason = HoldReason.from_word(word)
    return Help(usage) if reason is None else Hold(parts[1].upper(), reason, extra)


def _notify(words: Words) -> Notify | Help:
    if len(words.args) == 1 and words.args[0].lower() in ("on", "off"):
        return Notify(words.args[0].lower() == "on")
    return Help("`notify` takes `on` or `off`")


# -- what each needs ---------------------------------------------------------------------------------


def _account(_: Parts, __: Any) -> Need[None]:
    return Need(Action.LIST)


def _creating_need(_: Parts, __: Any) -> Need[None]:
    return Need(Action.CREATE)


def _on(action: Action) -> Callable[[Parts, Any], Need[Incident]]:
    """`action` on the incident the request names."""
    return lambda parts, request: parts.incidents.by_number(action, request.number)


def _comment_need(parts: Parts, request: Comment) -> Need[Incident]:
    action = Action.COMMENT if request.public else Action.WORK_NOTE
    return parts.incidents.by_number(action, request.number)


# -- work ------------------------------------------------------------------------------------------


async def _open_create_form(parts: Parts, it: Interaction, _: Bare, __: Grant[None]) -> None:
    async def form() -> dict[str, Any]:
        return create_modal(it.channel or "", await parts.incidents.categories())

    await open_modal(parts.slack, it.trigger_id or "", "New incident", form())
    return None


async def _run_create(
    parts: Parts, it: Interaction, request: Create, grant: Grant[None]
) -> str | None:
    # In the incident channel the feed announces every new incident already.
    here = None if it.channel == parts.incident_channel else it.channel or it.user
    short, description = split_description(request.text)
    question = await parts.opening.open(
        it,
        grant.person,
        NewIncident(short, description),
        correlation_id=f"slack:{it.trigger_id}",
        post_to=here,
    )
    if question is not None:  # similar open incidents: asked only of the person
        await parts.interactions.reply(it, question)
    return None  # the card has the number; the ack said what is being opened


async def _run_show(parts: Parts, it: Interaction, _: Show, grant: Grant[Incident]) -> str | None:
    incident, card = await parts.incidents.render(grant.record.sys_id, grant.record)
    return await parts.incidents.post(it.channel or it.user, incident, card, for_user=it.user)


async def _run_list(
    parts: Parts, it: Interaction, request: ListIncidents, grant: Grant[None]
) -> None:
    await show_list(parts, it, grant.person, request.scope, request.page, replace=False)


async def show_list(
    parts: Parts, it: Interaction, person: Person, scope: str, page: int, *, replace: bool
) -> None:
    """One page of a list, only to the person (a new ephemeral, or in place of the old page)."""
    found, total = await parts.incidents.list_for(person, scope, page)
    urls = [parts.incidents.url(incident.sys_id) for incident in found]
    card = incident_list(scope, found, urls, page=page, total=total)
    await parts.interactions.reply(it, card, replace=replace)


async def _run_assign(
    parts: Parts, it: Interaction, request: Assign, grant: Grant[Incident]
) -> str:
    changed = await parts.incidents.assign(grant.person, grant.record, request.assignee)
    who = "you" if request.assignee in ("me", it.user) else f"<@{request.assignee}>"
    return f"{DONE} Assigned {escape(changed.number)} to {who}."


async def _run_comment(
    parts: Parts, it: Interaction, request: Comment, grant: Grant[Incident]
) -> str:
    changed = await parts.incidents.comment(
        grant.person, grant.record, request.text, public=request.public
    )
    kind = "comment" if request.public else "work note"
    return f"{DONE} Added your {kind} to {escape(changed.number)}."


async def _open_resolve_form(
    parts: Parts, it: Interaction, request: Resolve, grant: Grant[Incident]
) -> None:
    async def form() -> dict[str, Any]:
        return resolve_modal(grant.record, await parts.incidents.close_codes(), it.carry())

    await open_modal(parts.slack, it.trigger_id or "", f"Resolve {request.number}", form())


async def _run_close(parts: Parts, it: Interaction, _: Close, grant: Grant[Incident]) -> str:
    changed = await parts.incidents.close(grant.person, grant.record)
    return f"{DONE} Closed {escape(changed.number)}."


async def _run_reopen(parts: Parts, it: Interaction, _: Reopen, grant: Grant[Incident]) -> str:
    changed = await parts.incidents.reopen(grant.person, grant.record)
    return f"{DONE} Reopened {escape(changed.number)}; it is In Progress again."


async def _run_hold(parts: Parts, it: Interaction, request: Hold, grant: Grant[Incident]) -> str:
    changed = await parts.incidents.hold(grant.person, grant.record, request.reason, request.text)
    return f"{DONE} {escape(changed.number)} is on hold ({request.reason.label})."


async def _run_follow(
    parts: Parts, it: Interaction, request: Follow | Unfollow, grant: Grant[Incident]
) -> str:
    incident, person = grant.record, grant.person
    if isinstance(request, Follow):
        await parts.followers.follow(
            "incident", incident.sys_id, person.slack_user_id, person.sys_user_id
        )
    else:
        await parts.followers.unfollow("incident", incident.sys_id, person.slack_user_id)
    return follow_confirmation(incident, isinstance(request, Follow)).text


async def _run_notify(parts: Parts, it: Interaction, request: Notify, _: Grant[None]) -> str:
    await parts.notifications.set_muted(it.user, not request.enabled)
    if request.enabled:
        return ":bell: DMs about your incidents are on again."
    return ":no_bell: No more DMs about incident changes. `/incident notify on` brings them back."


def _creating(request: Create) -> str:
    short, _ = split_description(request.text)
    return f"Opening an incident: {escape(short)}… (unless a similar one is open)"


SUBCOMMANDS: tuple[Subcommand[Parts, Any], ...] = (
    Subcommand(
        (),
        ("`/incident` — open the form for a new incident",),
        _bare,
        _open_create_form,
        _creating_need,
        role="bare",
    ),
    Subcommand(
        ("new",),
        ("`/incident <what is wrong>` (or `new <what is wrong>`) — open an incident in one line",),
        _create,
        _run_create,
        _creating_need,
        ack=_creating,
        role="fallback",
    ),
    Subcommand(
        ("show",),
        ("`/incident INC0010001` (or `show INC…`) — post the incident's card here",),
        _show,
        _run_show,
        _on(Action.READ),
        number=NUMBER,
    ),
    Subcommand(
        ("list",),
        ("`/incident list` · `list assigned` · `list group` — your open incidents, your queue",),
        _list,
        _run_list,
        _account,
    ),
    Subcommand(
        ("assign",),
        ("`/incident assign INC… @someone` (or `me`)",),
        _assign,
        _run_assign,
        _on(Action.ASSIGN),
    ),
    Subcommand(
        ("comment", "note"),
        (
            "`/incident comment INC… <text>` — a comment the caller sees",
            "`/incident note INC… <text>` — an internal work note",
        ),
        _comment,
        _run_comment,
        _comment_need,
    ),
    Subcommand(
        ("resolve",),
        ("`/incident resolve INC…` · `close INC…` · `reopen INC…`",),
        lambda words: _one_number(Resolve, words),
        _open_resolve_form,
        _on(Action.RESOLVE),
    ),
    Subcommand(
        ("close",), (), lambda words: _one_number(Close, words), _run_close, _on(Action.CLOSE)
    ),
    Subcommand(
        ("reopen",), (), lambda words: _one_number(Reopen, words), _run_reopen, _on(Action.REOPEN)
    ),
    Subcommand(
        ("hold",),
        ("`/incident hold INC… caller|vendor|problem|change <text>`",),
        _hold,
        _run_hold,
        _on(Action.HOLD),
    ),
    Subcommand(
        ("follow",),
        ("`/incident follow INC…` · `unfollow INC…` — DMs about its changes, or none",),
        lambda words: _one_number(Follow, words),
        _run_follow,
        _on(Action.READ),
    ),
    Subcommand(
        ("unfollow",),
        (),
        lambda words: _one_number(Unfollow, words),
        _run_follow,
        _on(Action.READ),
    ),
    Subcommand(
        ("notify",),
        ("`/incident notify off` · `notify on` — mute or restore your DMs about changes",),
        _notify,
        _run_notify,
        _account,
    ),
)
