"""The `/incident` router: one slash command, subcommands registered by each record kind.

A subcommand is one entry — the words it answers to, its lines in `/incident help`, a pure parser
(text in, a typed request out), the work it does and what that work needs (bot/permissions.py: an
action and the record, checked on the interaction path before the work runs) — so adding one is one entry in its kind's
`commands.py` plus a test. Parsing is forgiving; anything not understood becomes `Help` naming
what was wrong, so the person always gets usage back. Help is generated from the entries.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from slack_bolt.async_app import AsyncAck

from bot.permissions import Grant, Need
from bot.slack.interactions import Interaction, Interactions
from bot.slack.kit import Card, escape, section

COMMAND = "/incident"
HELP_WORDS = {"help", "-h", "--help", "?", "usage"}
USAGE_TITLE = f"*{COMMAND}* — work ServiceNow incidents from Slack"
HELP_LINE = f"`{COMMAND} help` — this message"

S = TypeVar("S")  # what the subcommand's work needs (its kind's parts)
R = TypeVar("R")  # the typed request its parser makes


@dataclass(frozen=True)
class Help:
    """Usage; `problem` says what was not understood, when something was (plain text with
    `code` spans, as a usage line: escaped when shown, so `<text>` and what was typed show as is)."""

    problem: str | None = None


@dataclass(frozen=True)
class Words:
    """The command's text: stripped, its first word lowercased, the words after it."""

    text: str
    keyword: str
    args: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> Words:
        words = text.split()
        return cls(text.strip(), words[0].lower() if words else "", tuple(words[1:]))

    @property
    def rest(self) -> str:
        """The text after the first word, as typed (line breaks kept)."""
        first = self.text.split(None, 1)
        return first[1].strip() if len(first) == 2 else ""


def _no_ack(_: Any) -> str | None:
    return None


@dataclass(frozen=True)
class Subcommand(Generic[S, R]):
    words: tuple[str, ...]  # the first words it answers to
    usage: tuple[str, ...]  # its lines in `/incident help` (plain text: escaped when shown)
    parse: Callable[[Words], R | Help | None]  # None: not this one after all (the fallback's)
    run: Callable[[S, Interaction, R, Grant[Any]], Awaitable[str | None]]  # a confirmation
    need: Callable[[S, R], Need[Any]]  # checked before `run`, which gets the grant
    ack: Callable[[R], str | None] = _no_ack  # said at once, before the work (no I/O)
    number: re.Pattern[str] | None = None  # also answers to a bare record number
    role: Literal["word", "bare", "fallback"] = "word"  # bare: `/incident` alone


@dataclass(frozen=True)
class Parsed:
    subcommand: Subcommand[Any, Any]
    parts: Any
    request: Any

    @property
    def ack_text(self) -> str | None:
        return self.subcommand.ack(self.request)

    @property
    def need(self) -> Need[Any]:
        return self.subcommand.need(self.parts, self.request)

    async def run(self, interaction: Interaction, grant: Grant[Any]) -> str | None:
        return await self.subcommand.run(self.parts, interaction, self.request, grant)


class Router:
    def __init__(self) -> None:
        self._entries: list[tuple[Subcommand[Any, Any], Any]] = []

    def add(self, subcommands: Iterable[Subcommand[S, Any]], parts: S) -> None:
        self._entries += [(subcommand, parts) for subcommand in subcommands]

    @classmethod
    def grammar(cls, *subcommands: Iterable[Subcommand[Any, Any]]) -> Router:
        """A router that only parses (and writes help): nothing is wired to do the work."""
        router = cls()
        for group in subcommands:
            router._entries += [(subcommand, None) for subcommand in group]
        return router

    @property
    def subcommands(self) -> list[Subcommand[Any, Any]]:
        """Every subcommand, in the order registered (the order `parse` tries them)."""
        return [subcommand for subcommand, _ in self._entries]

    def parse(self, text: str) -> Parsed | Help:
        words = Words.of(text)
        if words.keyword in HELP_WORDS:
            return Help()
        role = "bare" if not words.keyword else "word"
        # Several kinds may answer one word (`show`, `follow`, `comment`), each for its own
        # numbers: the first whose parser accepts wins; if none does, the first one's usage.
        refused: Help | None = None
        for subcommand, parts in self._entries:
            if role == "bare" and subcommand.role != "bare":
                continue
            if role == "word" and not self._answers(subcommand, words.keyword):
                continue
            request = subcommand.parse(words)
            if request is None:
                break
            if isinstance(request, Help):
                refused = refused or request
                continue
            return Parsed(subcommand, parts, request)
        if refused is not None:
            return refused
        for subcommand, parts in self._entries:
            if subcommand.role == "fallback":
                request = subcommand.parse(words)
                if isinstance(request, Help):
                    return request
                if request is not None:
                    return Parsed(subcommand, parts, request)
        return Help(f"I don't know `{words.keyword}`.")

    @staticmethod
    def _answers(subcommand: Subcommand[Any, Any], keyword: str) -> bool:
        if subcommand.role != "word":
            return False
        return keyword in subcommand.words or bool(
            subcommand.number and subcommand.number.match(keyword)
        )

    def usage(self, problem: str | None = None) -> Card:
        """`/incident help`, from the registered subcommands (escaped: `<text>` shows as typed)."""
        lines = [line for subcommand, _ in self._entries for line in subcommand.usage]
        body = "\n".join([USAGE_TITLE, *(f"• {escape(line)}" for line in [*lines, HELP_LINE])])
        lead = f":information_source: {escape(problem)}\n\n" if problem else ""
        return Card(text=lead + body, blocks=(section(lead + body),))


async def acknowledge(ack: AsyncAck, router: Router, parsed: Parsed | Help) -> None:
    """What `/incident` answers at once: usage for `Help`, else the subcommand's ack text (or an
    empty 200). Pure: the `serve` front (bot/front.py) answers with it too, without the app."""
    if isinstance(parsed, Help):
        card = router.usage(parsed.problem)
        await ack(text=card.text, blocks=list(card.blocks), response_type="ephemeral")
        return
    text = parsed.ack_text
    if text:
        await ack(text=text, response_type="ephemeral")
    else:
        await ack()


def install(interactions: Interactions, router: Router) -> None:
    @interactions.app.command(COMMAND)
    async def incident(ack: AsyncAck, command: dict[str, Any]) -> None:
        interaction = Interaction.of_command(command)
        parsed = router.parse(interaction.value)
        await acknowledge(ack, router, parsed)
        if isinstance(parsed, Help):  # usage was the answer, and nothing else to do
            return
        # A Slack retry of the same command carries the same trigger_id: it acts once.
        await interactions.run(
            interaction, parsed.need, lambda grant: parsed.run(interaction, grant), once=True
        )
