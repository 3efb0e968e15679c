"""Subscription use cases: who may subscribe a channel, the form's choices, make/change/delete.

Rules kept here:
- only a member of the channel may subscribe it, change or delete its subscriptions
  (`conversations.members`; channels:read for public channels, groups:read for private ones);
- a private channel works once the bot is in it: until then Slack answers `channel_not_found`,
  and the form says to invite the bot;
- the creator must be able to read what the subscription would post: with the integration
  user, the permission table (a read role, or every record filtered to groups they are in);
  acting as the person, ServiceNow's ACLs (the subscription's own query, run with their token);
- everything written in the channel about a subscription names who made it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.feed.filters import Choices, Event, Rows, Subscribable
from bot.feed.messenger import Messenger
from bot.feed.subscriptions import ChannelFeed, creator_text
from bot.identity import Person
from bot.permissions import Guard
from bot.slack.explain import Refusal
from bot.slack.interactions import Interactions
from bot.slack.kit import escape
from bot.subscriptions.cards import Options, announcement, subscription_line
from servicenow.client import ServiceNowClient
from servicenow.errors import ForbiddenError
from servicenow.query import Query
from servicenow.records import ChoiceCache
from storage import SlackWrite
from storage.subscriptions import StoredSubscription, Subscriptions

log = logging.getLogger(__name__)
CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{6,}")
ROWS_MAX = 100  # rows offered per filter (a static select shows 100)
READ_CHECK = 100  # rows read as the person to see whether ServiceNow hides any from them
BOT_MENTION = "@incident-bot"


class NotHere(Refusal):
    """The channel can't be subscribed (by this person, or at all yet)."""


@dataclass(frozen=True)
class Draft:
    """A submitted form."""

    channel: str
    table: str
    events: tuple[str, ...]
    filters: dict[str, list[str]]
    history: bool
    summary: str


def not_in_private_channel() -> str:
    return (
        ":lock: I'm not in this channel, so I can't see it or post here. If it is private, "
        f"invite me first (`/invite {BOT_MENTION}`), then try again."
    )


class ChannelSubscriptions:
    def __init__(
        self,
        slack: AsyncWebClient,
        servicenow: ServiceNowClient,
        choices: ChoiceCache,
        channels: ChannelFeed,
        guard: Guard,
        messenger: Messenger,
        interactions: Interactions,
    ) -> None:
        self.slack = slack
        self.interactions = interactions
        self._slack = slack
        self._servicenow = servicenow
        self._choices = choices
        self.channels = channels
        self._guard = guard
        self._messenger = messenger

    @property
    def store(self) -> Subscriptions:
        return self.channels.subscriptions

    @property
    def kinds(self) -> list[Subscribable]:
        return list(self.channels.kinds.values())

    def kind(self, table: str) -> Subscribable | None:
        return self.channels.kinds.get(table)

    # -- who may --------------------------------------------------------------------------------

    async def require_member(self, channel: str, slack_user_id: str) -> None:
        """NotHere unless the person is a member of the channel (and the bot can see it)."""
        if not channel or channel.startswith("D"):
            raise NotHere(":information_source: Subscriptions are for channels, not DMs.")
        cursor: str | None = None
        while True:
            try:
                page = await self._slack.conversations_members(
                    channel=channel, limit=1000, cursor=cursor
                )
            except SlackApiError as exc:
                error = str(exc.response.get("error", ""))
                if error in ("channel_not_found", "not_in_channel"):
                    raise NotHere(not_in_private_channel()) from exc
                raise
            if slack_user_id in (page.get("members") or []):
                return
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                raise NotHere(
                    f":no_entry: Only members of <#{channel}> can subscribe it or change its "
                    "subscriptions; join it first."
                )

    async def require_reader(self, person: Person, kind: Subscribable, draft: Draft) -> None:
        """Refused unless `person` may read every record the subscription would post."""
        policy = self._guard.policy_for(person)
        if not policy.enforced:
            # ServiceNow decides, row by row: the subscription's own query as the person. Its
            # X-Total-Count counts rows before ACLs, so fewer rows than counted means some of
            # what it would post is hidden from them; a query business rule (ServiceNow's
            # "incident query" for people without itil) narrows the count itself, so the
            # integration user's count of the same query is the measure.
            query = _query(kind, draft.filters)
            try:
                page, everything = await asyncio.gather(
                    self._guard.client(person).list(
                        kind.table, query, fields=("sys_id",), limit=READ_CHECK
                    ),
                    self._servicenow.list(kind.table, query, fields=("sys_id",), limit=1),
                )
            except ForbiddenError as exc:
                raise NotHere(
                    f":no_entry: ServiceNow doesn't let you read {escape(kind.label.lower())}, "
                    "so you can't subscribe a channel to them."
                ) from exc
            seen = page.total if page.total is not None else len(page.records)
            hidden = len(page.records) < min(seen, READ_CHECK) or (
                everything.total is not None and seen < everything.total
            )
            if hidden:
                raise NotHere(
                    f":no_entry: You can't subscribe <#{draft.channel}> to these "
                    f"{escape(kind.label.lower())}: ServiceNow hides some of them from you, and "
                    "the channel would see what you can't. Narrow the filters (your groups), or "
                    "ask your ServiceNow admin for the role."
                )
            return
        standing = await self._guard.standing(person)
        if standing.roles & (policy.read_roles | policy.fulfiller_roles):
            return
        groups = draft.filters.get(kind.group_field or "", []) if kind.group_field else []
        if groups and set(groups) <= standing.groups:
            return
        raise NotHere(
            f":no_entry: You can't subscribe <#{draft.channel}> to these "
            f"{escape(kind.label.lower())}: you may only read those of your own groups. Filter "
            "on your assignment group(s), or ask your ServiceNow admin for the role "
            f"({', '.join(sorted(policy.read_roles))})."
        )

    # -- the form's choices ---------------------------------------------------------------------

    async def options(self, kind: Subscribable) -> dict[str, Options]:
        """Each filter's choices from the instance; a list it doesn't have is left out."""

        async def one(field_name: str, source: Choices | Rows) -> tuple[str, Options] | None:
            try:
                if isinstance(source, Choices):
                    found = await self._choices.get(source.table, source.element)
                    return field_name, [(c.value, c.label) for c in found]
                page = await self._servicenow.list(
                    source.table,
                    Query().order_by(source.label_field),
                    fields=("sys_id", source.label_field),
                    limit=ROWS_MAX,
                )
                return field_name, [
                    (r["sys_id"], r.get(source.label_field) or r["sys_id"]) for r in page.records
                ]
            except Exception as exc:  # an instance without the table: no such filter
                log.info("no choices for %s.%s: %r", kind.table, field_name, exc)
                return None

        sources = [(f.field, f.source) for f in kind.filters]
        # A flag whose field comes with a plugin: offered where its choice list exists.
        sources += [(f"flag:{f.key}", f.present_if) for f in kind.flags if f.present_if]
        found = await asyncio.gather(*(one(name, source) for name, source in sources))
        options = {name: options for name, options in (f for f in found if f) if options}
        for flag in kind.flags:
            if flag.present_if is None:
                options[f"flag:{flag.key}"] = [("yes", flag.label)]
        return options

    # -- make, change, delete -------------------------------------------------------------------

    async def create(self, person: Person, draft: Draft) -> StoredSubscription:
        rule = await self.store.add(
            draft.channel,
            draft.table,
            draft.events,
            draft.filters,
            history=draft.history,
            creator=person.slack_user_id,
            summary=draft.summary,
        )
        self.channels.forget()
        await self._announce(
            draft.channel,
            f":mega: <@{person.slack_user_id}> subscribed this channel: "
            f"{subscription_line(rule, self.channels.kinds)}",
        )
        return rule

    async def change(
        self, person: Person, rule: StoredSubscription, draft: Draft
    ) -> StoredSubscription:
        await self.store.change(
            rule.id, draft.events, draft.filters, history=draft.history, summary=draft.summary
        )
        self.channels.forget()
        changed = await self.store.get(rule.id) or rule
        await self._announce(
            rule.channel,
            f":pencil2: <@{person.slack_user_id}> changed the subscription made by "
            f"{creator_text(rule)}: {subscription_line(changed, self.channels.kinds)}",
        )
        return changed

    async def delete(self, person: Person, rule: StoredSubscription) -> None:
        await self.store.remove(rule.id)
        self.channels.forget()
        await self._announce(
            rule.channel,
            f":wastebasket: <@{person.slack_user_id}> deleted the subscription made by "
            f"{creator_text(rule)} ({subscription_line(rule, self.channels.kinds)})",
        )

    async def _announce(self, channel: str, text: str) -> None:
        card = announcement(text)
        await self._messenger.queue(
            SlackWrite("post", channel, {"text": card.text, "blocks": list(card.blocks)})
        )

    async def from_setting(self, channel: str) -> StoredSubscription | None:
        """INCIDENT_CHANNEL, once ever: a subscription to every new incident in that channel."""
        if "incident" not in self.channels.kinds:
            return None
        if not await self.store.once(f"incident_channel:{channel}"):
            return None
        if not CHANNEL_ID.fullmatch(channel):
            log.warning(
                "INCIDENT_CHANNEL=%s is not a channel id (C…): cards still go there, but its "
                "cards' footers and /incident subscriptions need the id (channel details in Slack)",
                channel,
            )
        rule = await self.store.add(
            channel, "incident", (Event.CREATED,), {}, history=False, creator="", summary=""
        )
        self.channels.forget()
        log.info(
            "INCIDENT_CHANNEL %s is now subscription %d (every new incident)", channel, rule.id
        )
        return rule


def _query(kind: Subscribable, filters: Mapping[str, Sequence[str]]) -> Query:
    query = Query()
    for name, values in filters.items():
        flag = next((f for f in kind.flags if f.key == name), None)
        if flag is not None:
            if "yes" in values:
                query = query.in_(flag.field, flag.values)
        elif values:
            query = query.in_(name, values)
    return query
