"""A kind's lists: `/incident <word> [page N]`, its Previous / Next buttons and its App Home
section, from one `Listing` (what to query for the person, how to word a line)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.commands.router import Help, Subcommand, Words
from bot.identity import Person
from bot.permissions import Action, Grant, Need
from bot.records.cards import PAGE_SIZE, record_list
from bot.records.ids import RecordId, value
from bot.records.kind import View
from bot.records.parts import RecordParts
from bot.slack.interactions import Interaction
from bot.slack.kit import Block, button, context, link, mrkdwn, section
from servicenow.client import ServiceNowClient
from servicenow.query import Query

HOME_MAX = 5  # lines per kind on the Home tab


@dataclass(frozen=True)
class Listing:
    word: str  # `/incident requests`
    title: str  # "Your open requested items"
    usage: str  # its line in help
    page_action: str  # the action id of its Previous / Next buttons
    # The person's records, newest first (None: nothing can match, say no groups).
    query: Callable[[ServiceNowClient, Person], Awaitable[Query | None]]
    summary: Callable[[View], str]  # a line under the number (mrkdwn, escaped)
    empty: str  # what the Home tab says when there is none


@dataclass(frozen=True)
class ListPage:
    page: int = 1


async def page_of(
    parts: RecordParts, listing: Listing, person: Person, page: int, size: int = PAGE_SIZE
) -> tuple[list[View], int]:
    records = parts.records
    query = await listing.query(records.client_for(person), person)
    if query is None:
        return [], 0
    found, total = await records.list(person, query, page, size)
    labels = await records.labels()
    return [View(r, records.url(r.get("sys_id", "")), labels) for r in found], total


async def show(
    parts: RecordParts,
    listing: Listing,
    it: Interaction,
    person: Person,
    page: int,
    *,
    replace: bool,
) -> None:
    views, total = await page_of(parts, listing, person, page)
    card = record_list(
        parts.records.kind,
        listing.title,
        listing.word,
        [(view, listing.summary(view)) for view in views],
        page=page,
        total=total,
        page_action=listing.page_action,
    )
    await parts.interactions.reply(it, card, replace=replace)


def _parse(listing: Listing) -> Callable[[Words], ListPage | Help]:
    def parse(words: Words) -> ListPage | Help:
        args = [a.lower() for a in words.args]
        if not args:
            return ListPage()
        if len(args) == 2 and args[0] == "page" and args[1].isdecimal() and int(args[1]) >= 1:
            return ListPage(int(args[1]))
        return Help(
            f"`{listing.word}` takes nothing or `page <n>`, e.g. `/incident {listing.word}`"
        )

    return parse


def subcommand(listing: Listing) -> Subcommand[RecordParts, Any]:
    async def run(
        parts: RecordParts, it: Interaction, request: ListPage, grant: Grant[None]
    ) -> None:
        await show(parts, listing, it, grant.person, request.page, replace=False)

    def need(_: RecordParts, __: Any) -> Need[None]:
        return Need(Action.LIST)

    return Subcommand((listing.word,), (listing.usage,), _parse(listing), run, need)


def install(parts: RecordParts, listing: Listing) -> None:
    """The list's subcommand and its paging buttons (each page replaces the last, for them only)."""

    async def page(it: Interaction, grant: Grant[None]) -> None:
        number = it.value.partition(":")[2]
        await show(
            parts, listing, it, grant.person, int(number) if number.isdecimal() else 1, replace=True
        )

    parts.interactions.on_action(listing.page_action, page, need=lambda _: Need(Action.LIST))


def home_section(
    parts: RecordParts, listing: Listing
) -> Callable[[Person], Awaitable[Sequence[Block]]]:
    """The kind's section of the App Home tab: the first few, and how to list the rest."""

    async def section_for(person: Person) -> Sequence[Block]:
        views, total = await page_of(parts, listing, person, 1, HOME_MAX)
        blocks: list[Block] = [{"type": "divider"}, section(f"*{listing.title}* ({total})")]
        if not views:
            blocks.append(context(listing.empty))
        for view in views:
            blocks.append(
                {
                    "type": "section",
                    "text": mrkdwn(f"*{link(view.url, view.number)}*  {listing.summary(view)}"),
                    "accessory": button(
                        "Follow", RecordId.FOLLOW, value(view.sys_id, parts.records.kind.table)
                    ),
                }
            )
        if total > len(views):
            blocks.append(context(f"…and {total - len(views)} more: `/incident {listing.word}`."))
        return blocks

    return section_for
