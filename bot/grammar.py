"""What a `/incident …` text asks for. Pure: text in, a typed request out.

Parsing is forgiving (any case, extra spaces, `inc0010001`, `<@U123|name>` or `me`), and anything it does
not understand becomes `Help` naming what was wrong, so the user always gets usage back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

NUMBER = re.compile(r"^INC\d{7}$", re.IGNORECASE)
MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


@dataclass(frozen=True)
class Help:
    """Usage; `problem` says what was not understood, when something was."""

    problem: str | None = None


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
class Hold:
    number: str
    reason: str  # the hold_reason choice value
    text: str


@dataclass(frozen=True)
class Notify:
    enabled: bool


@dataclass(frozen=True)
class Approvals:
    pass


Request = (
    Help
    | Bare
    | Create
    | Show
    | ListIncidents
    | Assign
    | Comment
    | Resolve
    | Close
    | Reopen
    | Hold
    | Notify
    | Approvals
)

HOLD_REASONS: dict[str, str] = {
    "caller": "1",
    "problem": "3",
    "vendor": "4",
    "change": "5",
}
_HELP = {"help", "-h", "--help", "?", "usage"}
_ONE_NUMBER: dict[str, type[Resolve | Close | Reopen | Show]] = {
    "resolve": Resolve,
    "close": Close,
    "reopen": Reopen,
    "show": Show,
}


def parse(text: str) -> Request:
    words = text.split()
    if not words:
        return Bare()
    keyword, args = words[0].lower(), words[1:]
    if keyword in _HELP:
        return Help()
    if NUMBER.match(keyword):
        if args:
            return Help(f"Say what to do first, e.g. `/incident comment {keyword.upper()} <text>`")
        return Show(keyword.upper())
    if keyword == "new":
        rest = text.strip()[len(words[0]) :].strip()
        return (
            Create(rest)
            if rest
            else Help("`new` needs a description: `/incident new <what is wrong>`")
        )
    if keyword in _ONE_NUMBER:
        if len(args) != 1 or not NUMBER.match(args[0]):
            return Help(
                f"`{keyword}` takes one incident number, e.g. `/incident {keyword} INC0010001`"
            )
        return _ONE_NUMBER[keyword](args[0].upper())
    if keyword == "list":
        return _list(args)
    if keyword == "assign":
        return _assign(args)
    if keyword in ("comment", "note"):
        return _comment(keyword, text)
    if keyword == "hold":
        return _hold(text)
    if keyword == "notify":
        if len(args) == 1 and args[0].lower() in ("on", "off"):
            return Notify(args[0].lower() == "on")
        return Help("`notify` takes `on` or `off`")
    if keyword == "approvals" and not args:
        return Approvals()
    return Create(text.strip())


def _list(args: list[str]) -> Request:
    scope: ListScope = "mine"
    page = 1
    rest = [a.lower() for a in args]
    if rest and rest[0] in ("mine", "assigned", "group"):
        scope = rest.pop(0)  # type: ignore[assignment]
    if rest and rest[0] == "page" and len(rest) == 2 and rest[1].isdigit() and int(rest[1]) >= 1:
        page = int(rest.pop(1))
        rest.pop(0)
    if rest:
        return Help("`list` takes `assigned`, `group` or nothing, e.g. `/incident list assigned`")
    return ListIncidents(scope, page)


def _assign(args: list[str]) -> Request:
    usage = "`assign` takes a number and a person: `/incident assign INC0010001 @someone` (or `me`)"
    if len(args) != 2 or not NUMBER.match(args[0]):
        return Help(usage)
    target = args[1]
    if target.lower() == "me":
        return Assign(args[0].upper(), "me")
    mention = MENTION.match(target)
    if mention:
        return Assign(args[0].upper(), mention.group(1))
    return Help(usage)


def _comment(keyword: str, text: str) -> Request:
    parts = text.strip().split(None, 2)
    if len(parts) < 3 or not NUMBER.match(parts[1]):
        return Help(f"`{keyword}` takes a number and text: `/incident {keyword} INC0010001 <text>`")
    return Comment(parts[1].upper(), parts[2].strip(), public=keyword == "comment")


def _hold(text: str) -> Request:
    reasons = ", ".join(f"`{word}`" for word in HOLD_REASONS)
    usage = f"`hold` takes a number and a reason ({reasons}): `/incident hold INC0010001 vendor waiting for parts`"
    parts = text.strip().split(None, 3)
    if len(parts) < 3 or not NUMBER.match(parts[1]):
        return Help(usage)
    word = parts[2].lower()
    if word == "awaiting" and len(parts) == 4:
        word, _, rest = parts[3].partition(" ")
        word = word.lower()
        extra = rest.strip()
    else:
        extra = parts[3].strip() if len(parts) == 4 else ""
    reason = HOLD_REASONS.get(word)
    if reason is None:
        return Help(usage)
    return Hold(parts[1].upper(), reason, extra)
