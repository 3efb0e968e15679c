"""Any record kind's use cases: read (as the person), render, post a live card, comment, list.

One `LiveRecords` per kind, built from its `Kind` by `bot.records.install_kind`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from bot.acting import Acting
from bot.feed.changes import Feed
from bot.feed.messenger import Messenger, card_post
from bot.identity import Person
from bot.permissions import Action, Hidden, Need, Target
from bot.records import cards
from bot.records.kind import Comment, Kind, Record, View
from bot.slack.explain import Refusal
from bot.slack.kit import Card
from servicenow.client import ServiceNowClient
from servicenow.query import Query, validate_sys_id
from servicenow.records import ChoiceCache, parse_datetime
from storage import Threads

# What a kind counts besides its record for its card (say, a problem's linked incidents).
Extras = Callable[[ServiceNowClient, Record], Awaitable[dict[str, str]]]


class RecordProblem(Refusal):
    """Something asked of a record can't be done; the message says why."""


RECENT_COMMENTS = 20  # comments read per change: the newest is the card's, new ones go to threads


async def latest_comment(servicenow: ServiceNowClient, sys_id: str) -> Comment | None:
    """The newest customer-visible comment on any record (one call)."""
    recent = await recent_comments(servicenow, sys_id, limit=1)
    return recent[0] if recent else None


async def recent_comments(
    servicenow: ServiceNowClient, sys_id: str, limit: int = RECENT_COMMENTS
) -> list[Comment]:
    """The newest customer-visible comments on any record, newest first (one Table API call;
    work notes are never read here, so they never reach a channel)."""
    query = (
        Query()
        .eq("element_id", validate_sys_id(sys_id))
        .eq("element", "comments")
        .order_by_desc("sys_created_on")
    )
    page = await servicenow.list(
        "sys_journal_field",
        query,
        fields=("sys_id", "value", "sys_created_on", "sys_created_by"),
        limit=limit,
    )
    return [
        Comment(
            text=row.get("value", ""),
            author=row.get("sys_created_by", ""),
            created_on=parse_datetime(row.get("sys_created_on")),
            id=row.get("sys_id", ""),
        )
        for row in page.records
    ]


class LiveRecords:
    def __init__(
        self,
        kind: Kind,
        servicenow: ServiceNowClient,
        choices: ChoiceCache,
        feed: Feed,
        messenger: Messenger,
        acting: Acting | None = None,
        extras: Extras | None = None,
        threads: Threads | None = None,
    ) -> None:
        self.kind = kind
        self._servicenow = servicenow
        self._choices = choices
        self._feed = feed
        self._messenger = messenger
        self._acting = acting or Acting(servicenow)
        self._extras = extras
        self._threads = threads  # remembers the comments written from Slack (never echoed)

    def client_for(self, person: Person) -> ServiceNowClient:
        return self._acting.client_for(person)

    # -- what listeners and subcommands need -------------------------------------------------------

    def by_sys_id(self, action: Action, sys_id: str) -> Need[Record]:
        async def locate(servicenow: ServiceNowClient) -> Target[Record]:
            record = await self.get(sys_id, servicenow)
            # What the bot shows (a preview, a button's answer), it tracks: its next change is
            # news even if the poller's first look at the table comes only after that change.
            await self._feed.reconcile(self.kind.table, record, baseline=True)
            return Target(record, self.kind.subject(record))

        return Need(action, locate)

    def by_number(self, action: Action, number: str) -> Need[Record]:
        async def locate(servicenow: ServiceNowClient) -> Target[Record]:
            record = await self.find(number, servicenow)
            return Target(record, self.kind.subject(record))

        return Need(action, locate)

    # -- reading -----------------------------------------------------------------------------------

    def url(self, sys_id: str, table: str | None = None) -> str:
        """The record's page in ServiceNow (of this kind, unless `table` says otherwise)."""
        return self._servicenow.record_url(table or self.kind.table, sys_id)

    async def get(self, sys_id: str, servicenow: ServiceNowClient | None = None) -> Record:
        client = servicenow or self._servicenow
        return await client.get(self.kind.table, validate_sys_id(sys_id), fields=self.kind.fields)

    async def find(self, number: str, servicenow: ServiceNowClient | None = None) -> Record:
        """By number (validated for this kind first), read as the person; tracked from now on."""
        query = Query().eq("number", self.kind.validate(number))
        client = servicenow or self._servicenow
        page = await client.list(self.kind.table, query, fields=self.kind.fields, limit=1)
        if not page.records:
            if page.total:
                raise Hidden(number.upper())
            raise RecordProblem(
                f"I can't find {number.upper()} in ServiceNow (or you can't see it)."
            )
        await self._feed.reconcile(self.kind.table, page.records[0], baseline=True)
        return page.records[0]

    async def recent_comments(self, sys_id: str) -> list[Comment]:
        """Its newest public comments, newest first (the tracker relays the new ones)."""
        return await recent_comments(self._servicenow, sys_id)

    async def labels(self) -> dict[str, dict[str, str]]:
        """Each choice field's labels, as `sys_choice` has them for the table (or for `task`,
        where a task table inherits them); cached by the ChoiceCache."""

        async def one(element: str) -> dict[str, str]:
            found = await self._choices.get(self.kind.table, element)
            if not found:
                found = await self._choices.get("task", element)
            return {choice.value: choice.label for choice in found}

        elements = self.kind.choices
        loaded = await asyncio.gather(*(one(element) for element in elements))
        return dict(zip(elements, loaded, strict=True))

    async def view(
        self, record: Record, *, latest: Comment | None = None, read_comment: bool = True
    ) -> View:
        """What the card of this version shows (its newest comment read unless given or not
        wanted, the kind's extras counted)."""
        sys_id = record.get("sys_id", "")
        comment = (
            latest_comment(self._servicenow, sys_id) if read_comment and latest is None else _none()
        )
        extras = self._extras(self._servicenow, record) if self._extras else _empty()
        labels, found, extra = await asyncio.gather(self.labels(), comment, extras)
        return View(record, self.url(sys_id), labels, latest or found, extra)

    def card(self, view: View) -> Card:
        return self.kind.card(view)

    async def render(self, record: Record) -> Card:
        return self.card(await self.view(record))

    async def preview(self, record: Record) -> Card:
        """The compact card a link to the record unfurls into (no comment read)."""
        view = await self.view(record, read_comment=False)
        return (self.kind.preview or cards.preview)(view)

    async def list(
        self, person: Person, query: Query, page: int, page_size: int
    ) -> tuple[list[Record], int]:
        """One page of records matching `query`, read as the person."""
        result = await self.client_for(person).list(
            self.kind.table,
            query,
            fields=self.kind.fields,
            limit=page_size,
            offset=(page - 1) * page_size,
        )
        total = result.total if result.total is not None else len(result.records)
        return list(result.records), total

    # -- writing -----------------------------------------------------------------------------------

    async def post(self, channel: str, record: Record, card: Card, *, for_user: str | None) -> None:
        """Post a live card in `channel` through the outbox; `for_user` hears by DM if it never
        can go there."""
        number, sys_id = record.get("number", ""), record.get("sys_id", "")
        notice = (
            f"{number} is ready, but I can't post in that channel. Invite me with "
            f"`/invite @incident-bot` to get live cards there: {self.url(sys_id)}"
        )
        await self._messenger.queue(
            card_post(
                channel,
                card,
                table=self.kind.table,
                sys_id=sys_id,
                undeliverable=(for_user, notice) if for_user and for_user != channel else None,
            )
        )

    async def comment(self, person: Person, record: Record, text: str) -> Record:
        """A public comment, signed with the person's name when the integration user writes it."""
        text = text.strip()
        if not text:
            raise RecordProblem("There's nothing to add: the text is empty.")
        number = record.get("number", "")
        if self.kind.closed(record):
            raise RecordProblem(f"{number} is closed: it takes no more comments.")
        if not self._acting.as_person:
            text = f"{text}\n\n— {person.name or person.email} (via Slack)"
        if self._threads is not None:  # its journal entry is never posted back to Slack
            await self._threads.remember_origin(self.kind.table, record.get("sys_id", ""), text)
        return await self.patch(person, record, {"comments": text})

    async def patch(self, person: Person, record: Record, values: Mapping[str, str]) -> Record:
        """Write for `person`; the change goes through the feed at once, credited to them."""
        table, sys_id = self.kind.table, record.get("sys_id", "")
        self._feed.expect_actor(table, sys_id, person.sys_user_id)
        changed = await self.client_for(person).patch(
            table,
            sys_id,
            dict(values),
            fields=self.kind.fields,
            version=int(record.get("sys_mod_count") or 0),
        )
        await self._feed.reconcile(table, changed, actor=person.sys_user_id)
        return changed


async def _none() -> None:
    return None


async def _empty() -> dict[str, str]:
    return {}
