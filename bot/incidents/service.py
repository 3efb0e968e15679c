"""Incident use cases: tie the Slack user, ServiceNow and the posted cards together.

Everything here acts for a person: writes carry their identity (`caller_id`, or a work note
"via Slack by <name>" where the integration user acts for them), and nothing knows about Bolt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from bot.acting import Acting
from bot.feed.changes import Feed
from bot.feed.messenger import Messenger, card_post
from bot.identity import Identity, Person, via_slack
from bot.incidents.cards import PAGE_SIZE, SHORT_DESCRIPTION_MAX, Comment, incident_card
from bot.incidents.vocabulary import STEPS, HoldReason, Move, allowed
from bot.permissions import Action, Hidden, Need, Subject, Target
from bot.records.service import RECENT_COMMENTS, recent_comments
from bot.slack.explain import Refusal
from bot.slack.kit import Card
from servicenow.client import ServiceNowClient
from servicenow.query import Query, validate_number, validate_sys_id
from servicenow.records import (
    Choice,
    ChoiceCache,
    Group,
    Incident,
    IncidentState,
)
from storage import SlackWrite, Threads

TABLE = "incident"
RESOLVED_OR_LATER = [
    str(int(s)) for s in (IncidentState.RESOLVED, IncidentState.CLOSED, IncidentState.CANCELED)
]


class IncidentProblem(Refusal):
    """Something the person asked of an incident can't be done; the message says why."""


@dataclass(frozen=True)
class Created:
    incident: Incident
    card: Card


@dataclass(frozen=True)
class NewIncident:
    """What the create modal (or one line of text) asks for."""

    short_description: str
    description: str = ""
    impact: str = "3"
    urgency: str = "3"
    category: str = ""
    assignment_group: str = ""


# What each state move needs (the state menu's entries and their subcommands).
MOVE_ACTIONS: dict[Move, Action] = {
    Move.START: Action.START,
    Move.HOLD: Action.HOLD,
    Move.RESOLVE: Action.RESOLVE,
    Move.CLOSE: Action.CLOSE,
    Move.CANCEL: Action.CANCEL,
    Move.REOPEN: Action.REOPEN,
}


def subject(incident: Incident) -> Subject:
    """The incident as the permission rules see it."""
    watchers = frozenset(
        entry.strip().lower() for entry in incident.watch_list.split(",") if entry.strip()
    )
    return Subject(
        TABLE,
        incident.number,
        caller=incident.caller_id,
        caller_name=incident.caller_name,
        opened_by=incident.opened_by,
        watch_list=watchers,
        assigned_to=incident.assigned_to,
        assigned_to_name=incident.assigned_to_name,
        assignment_group=incident.assignment_group,
        assignment_group_name=incident.assignment_group_name,
    )


def split_description(text: str) -> tuple[str, str]:
    """Short description (≤160 chars, cut at a word) and, for longer text, the whole text."""
    text = text.strip()
    first_line = text.splitlines()[0].strip() if text else ""
    if first_line == text and len(text) <= SHORT_DESCRIPTION_MAX:
        return text, ""
    short = first_line
    if len(short) > SHORT_DESCRIPTION_MAX:
        cut = short[: SHORT_DESCRIPTION_MAX - 1]
        word_end = cut.rfind(" ")
        short = (cut[:word_end] if word_end > SHORT_DESCRIPTION_MAX // 2 else cut).rstrip() + "…"
    return short, text


class Incidents:
    def __init__(
        self,
        servicenow: ServiceNowClient,
        identity: Identity,
        messenger: Messenger,
        choices: ChoiceCache,
        feed: Feed,
        acting: Acting | None = None,
        threads: Threads | None = None,
    ) -> None:
        self._servicenow = servicenow
        self._identity = identity
        self._messenger = messenger
        self._choices = choices
        self._feed = feed
        self._acting = acting or Acting(servicenow)
        self._threads = threads

    def _as(self, person: Person) -> ServiceNowClient:
        """ServiceNow for this person: their own token when the bot acts as people."""
        return self._acting.client_for(person)

    def _attributed(self, values: dict[str, str], note: str) -> dict[str, str]:
        """Add a work note saying who did it from Slack, unless ServiceNow records that itself
        (acting as the person: its audit trail names them, and a caller may not add work notes)."""
        if not self._acting.as_person:
            values["work_notes"] = note
        return values

    def _signed(self, text: str, signature: str) -> str:
        return text if self._acting.as_person else f"{text}\n\n— {signature}"

    # -- what listeners and subcommands need -------------------------------------------------------

    def by_sys_id(self, action: Action, sys_id: str) -> Need[Incident]:
        """`action` on the incident with this sys_id (a card's button, a form's metadata), read
        with the client the interaction path gives: the person's own when acting as people."""

        async def locate(servicenow: ServiceNowClient) -> Target[Incident]:
            incident = await self.get(sys_id, servicenow)
            return Target(incident, subject(incident))

        return Need(action, locate)

    def by_number(self, action: Action, number: str) -> Need[Incident]:
        """`action` on the incident with this number (a subcommand), read as `by_sys_id`."""

        async def locate(servicenow: ServiceNowClient) -> Target[Incident]:
            incident = await self.find(number, servicenow)
            return Target(incident, subject(incident))

        return Need(action, locate)

    # -- reading ---------------------------------------------------------------------------------

    def url(self, sys_id: str) -> str:
        return self._servicenow.record_url(TABLE, sys_id)

    def card(self, incident: Incident, latest: Comment | None = None) -> Card:
        return incident_card(incident, self.url(incident.sys_id), latest)

    async def get(self, sys_id: str, servicenow: ServiceNowClient | None = None) -> Incident:
        """The incident, read with `servicenow` (the integration user unless given)."""
        client = servicenow or self._servicenow
        record = await client.get(TABLE, validate_sys_id(sys_id), fields=Incident.FIELDS)
        return Incident.from_record(record)

    async def find(self, number: str, servicenow: ServiceNowClient | None = None) -> Incident:
        """The incident by number, read as `get`. Hidden when ServiceNow counted it but left it out
        of the page (an ACL: rows are filtered after the limit, X-Total-Count still counts them)."""
        query = Query().eq("number", validate_number(number))
        client = servicenow or self._servicenow
        page = await client.list(TABLE, query, fields=Incident.FIELDS, limit=1)
        if not page.records:
            if page.total:
                raise Hidden(number.upper())
            raise IncidentProblem(
                f"I can't find {number.upper()} in ServiceNow (or you can't see it)."
            )
        # What the bot shows, it tracks: from now on its changes reach cards and DMs.
        await self._feed.reconcile(TABLE, page.records[0], baseline=True)
        return Incident.from_record(page.records[0])

    async def latest_comment(self, sys_id: str) -> Comment | None:
        recent = await self.recent_comments(sys_id, limit=1)
        return recent[0] if recent else None

    async def recent_comments(self, sys_id: str, limit: int = RECENT_COMMENTS) -> list[Comment]:
        """The newest customer-visible comments, newest first (one Table API call; work notes
        are never read here, so they never reach a channel)."""
        return await recent_comments(self._servicenow, sys_id, limit)

    async def render(self, sys_id: str, incident: Incident | None = None) -> tuple[Incident, Card]:
        """The incident's current card (the record, unless given, and its newest comment)."""
        if incident is None:
            current, latest = await asyncio.gather(self.get(sys_id), self.latest_comment(sys_id))
        else:
            current, latest = incident, await self.latest_comment(sys_id)
        return current, self.card(current, latest)

    async def close_codes(self) -> list[Choice]:
        return await self._choices.get(TABLE, "close_code")

    async def categories(self) -> list[Choice]:
        return await self._choices.get(TABLE, "category")

    async def groups_matching(self, text: str, limit: int = 20) -> list[Group]:
        query = Query().eq("active", "true")
        if text.strip():
            query = query.like("name", text.strip()[:80])
        page = await self._servicenow.list(
            "sys_user_group", query.order_by("name"), fields=Group.FIELDS, limit=limit
        )
        return [Group.from_record(row) for row in page.records]

    async def similar(self, person: Person, query: Query, limit: int) -> list[Incident]:
        """Incidents matching `query` (the duplicate check's), read as the person, newest first."""
        page = await self._as(person).list(
            TABLE, query.order_by_desc("sys_created_on"), fields=Incident.FIELDS, limit=limit
        )
        return [Incident.from_record(row) for row in page.records]

    async def list_for(self, person: Person, scope: str, page: int) -> tuple[list[Incident], int]:
        """One page of open incidents, newest first: mine (caller), assigned to me, or my groups'."""
        servicenow = self._as(person)
        # Resolved incidents stay active in ServiceNow until closed; "open" means not yet resolved.
        query = Query().eq("active", "true").not_in("state", RESOLVED_OR_LATER)
        if scope == "assigned":
            query = query.eq("assigned_to", person.sys_user_id)
        elif scope == "group":
            groups = await servicenow.list(
                "sys_user_grmember",
                Query().eq("user", person.sys_user_id),
                fields=("group",),
                limit=100,
            )
            group_ids = [row["group"] for row in groups.records if row.get("group")]
            if not group_ids:
                return [], 0
            query = query.in_("assignment_group", [validate_sys_id(g) for g in group_ids])
        else:
            query = query.eq("caller_id", person.sys_user_id)
        query = query.order_by_desc("sys_created_on").order_by_desc("number")
        result = await servicenow.list(
            TABLE,
            query,
            fields=Incident.FIELDS,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
        incidents = [Incident.from_record(row) for row in result.records]
        return incidents, result.total if result.total is not None else len(incidents)

    # -- writing ---------------------------------------------------------------------------------

    async def create(
        self,
        person: Person,
        new: NewIncident | str,
        *,
        correlation_id: str | None = None,
        post_to: str | None = None,
        for_user: str | None = None,
        caller: Person | None = None,
        thread_ts: str | None = None,
    ) -> Created:
        """Open an incident by `person` for `caller` (themselves unless given; one Table API
        call), and post its live card in `post_to` (as `post` does; in the thread of `thread_ts`
        when given, which it then keeps in sync: replies there become its comments), queued in
        the same transaction that records the incident's first version."""
        if isinstance(new, str):
            short, description = split_description(new)
            new = NewIncident(short, description)
        caller = caller or person
        values = {
            "caller_id": caller.sys_user_id,
            "short_description": new.short_description,
            "description": new.description,
            "impact": new.impact,
            "urgency": new.urgency,
            "contact_type": "chat",
        }
        if new.category:
            values["category"] = new.category
        if new.assignment_group:
            values["assignment_group"] = validate_sys_id(new.assignment_group)
        if correlation_id:
            values["correlation_id"] = correlation_id[:100]
        record = await self._as(person).create(
            TABLE, values, fields=Incident.FIELDS, correlation_id=correlation_id
        )
        incident = Incident.from_record(record)
        if not incident.caller_name:
            incident = incident.model_copy(update={"caller_name": caller.name})
        card = self.card(incident)
        posts = [self._card_post(post_to, incident, card, for_user, thread_ts)] if post_to else []
        if post_to and thread_ts and self._threads is not None:
            # Its card goes into the thread of the message it came from: that thread is about it.
            await self._threads.link(post_to, thread_ts, TABLE, incident.sys_id)
        accepted = await self._feed.reconcile(
            TABLE, record, actor=person.sys_user_id, created=True, also=posts
        )
        if posts and not accepted:  # its first version was recorded first by an event or a poll
            await self._messenger.queue(*posts)
        return Created(incident, card)

    async def post(
        self, channel: str, incident: Incident, card: Card, *, for_user: str | None = None
    ) -> str | None:
        """Post a live card in `channel` through the outbox (at once, unless Slack is down or
        busy: then as soon as it is back). If the card can never go there, `for_user` hears
        why by DM. Returns None: the person has the number in the answer already."""
        await self._messenger.queue(self._card_post(channel, incident, card, for_user))
        return None

    def _card_post(
        self,
        channel: str,
        incident: Incident,
        card: Card,
        for_user: str | None,
        thread_ts: str | None = None,
    ) -> SlackWrite:
        notice = (
            f"{incident.number} is ready, but I can't post in that channel. Invite me with "
            f"`/invite @incident-bot` to get live cards there: {self.url(incident.sys_id)}"
        )
        return card_post(
            channel,
            card,
            table=TABLE,
            sys_id=incident.sys_id,
            undeliverable=(for_user, notice) if for_user and for_user != channel else None,
            thread_ts=thread_ts,
        )

    async def assign(self, person: Person, incident: Incident, assignee: str) -> Incident:
        """Assign to `assignee`: "me" (or the person's own Slack id), or another Slack user."""
        mine = assignee in ("me", person.slack_user_id)
        target = person if mine else await self._assignee(assignee)
        self._require_open(incident, "assign")
        note = via_slack(person)
        if target is not person:
            note = f"Assigned to {target.name} {note}"
        values = self._attributed({"assigned_to": target.sys_user_id}, note)
        return await self._patch(incident, values, person)

    async def comment(
        self, person: Person, incident: Incident, text: str, *, public: bool
    ) -> Incident:
        text = text.strip()
        if not text:
            raise IncidentProblem("There's nothing to add: the text is empty.")
        if incident.state in (IncidentState.CLOSED, IncidentState.CANCELED):
            raise IncidentProblem(
                f"{incident.number} is {incident.state.label.lower()}: it takes no more comments."
            )
        if public:
            values = {"comments": self._signed(text, f"{person.name or person.email} (via Slack)")}
            if self._threads is not None:  # its journal entry is never posted back to Slack
                await self._threads.remember_origin(TABLE, incident.sys_id, values["comments"])
        else:
            values = {"work_notes": self._signed(text, via_slack(person))}
        return await self._patch(incident, values, person)

    async def resolve(
        self, person: Person, incident: Incident, close_code: str, close_notes: str
    ) -> Incident:
        self._require(incident, Move.RESOLVE, "resolve")
        codes = {choice.value for choice in await self.close_codes()}
        if close_code not in codes:
            raise IncidentProblem(f"“{close_code}” is not a resolution code this instance knows.")
        if not close_notes.strip():
            raise IncidentProblem("Resolution notes are required.")
        values = {
            "state": str(int(STEPS[Move.RESOLVE].target)),
            "close_code": close_code,
            "close_notes": close_notes.strip(),
        }
        note = f"{STEPS[Move.RESOLVE].verb} {via_slack(person)}"
        return await self._patch(incident, self._attributed(values, note), person)

    async def close(self, person: Person, incident: Incident) -> Incident:
        if not allowed(incident.state, Move.CLOSE):
            raise IncidentProblem(
                f"{incident.number} is {incident.state.label}: resolve it first "
                f"(`/incident resolve {incident.number}`), then close it."
            )
        return await self._move(incident, Move.CLOSE, person)

    async def reopen(self, person: Person, incident: Incident) -> Incident:
        if not allowed(incident.state, Move.REOPEN):
            reason = (
                "still open"
                if incident.state.is_open
                else f"{incident.state.label.lower()} for good"
            )
            raise IncidentProblem(
                f"{incident.number} is {reason}: only a resolved incident can be reopened."
            )
        return await self._move(incident, Move.REOPEN, person)

    async def hold(self, person: Person, incident: Incident, reason: str, text: str) -> Incident:
        self._require_open(incident, "put on hold")
        if reason not in HoldReason._value2member_map_:
            words = ", ".join(r.word for r in HoldReason)
            raise IncidentProblem(f"Choose why the incident waits: {words}.")
        hold_reason = HoldReason(reason)
        if hold_reason == HoldReason.CALLER and not text.strip():
            raise IncidentProblem(
                "Waiting for the caller needs a comment telling them what you need."
            )
        step = STEPS[Move.HOLD]
        values = self._attributed(
            {"state": str(int(step.target)), "hold_reason": hold_reason.value},
            f"{step.verb} ({hold_reason.label}) {via_slack(person)}",
        )
        if text.strip():
            values["comments"] = self._signed(
                text.strip(), f"{person.name or person.email} (via Slack)"
            )
            if self._threads is not None:
                await self._threads.remember_origin(TABLE, incident.sys_id, values["comments"])
        return await self._patch(incident, values, person)

    async def start_work(self, person: Person, incident: Incident) -> Incident:
        if incident.state == IncidentState.IN_PROGRESS:
            return incident
        self._require(incident, Move.START, "move to In Progress")
        return await self._move(incident, Move.START, person)

    async def cancel(self, person: Person, incident: Incident) -> Incident:
        if not allowed(incident.state, Move.CANCEL):
            raise IncidentProblem(
                f"Only a new incident can be canceled; {incident.number} is {incident.state.label}."
            )
        return await self._move(incident, Move.CANCEL, person)

    async def move(self, person: Person, incident: Incident, move: Move) -> Incident:
        """A state move that needs nothing more (the state menu's direct entries)."""
        direct = {
            Move.START: self.start_work,
            Move.CLOSE: self.close,
            Move.CANCEL: self.cancel,
            Move.REOPEN: self.reopen,
        }
        return await direct[move](person, incident)

    async def _assignee(self, slack_user_id: str) -> Person:
        return await self._identity.person(slack_user_id, for_someone_else=True)

    async def _move(self, incident: Incident, move: Move, person: Person) -> Incident:
        """Set the state, with a work note saying who did it from Slack."""
        step = STEPS[move]
        values = self._attributed(
            {"state": str(int(step.target))}, f"{step.verb} {via_slack(person)}"
        )
        return await self._patch(incident, values, person)

    async def _patch(
        self, incident: Incident, values: Mapping[str, str], person: Person
    ) -> Incident:
        """Write for `person`; the change goes through the feed at once (cards, DMs), credited to them."""
        self._feed.expect_actor(TABLE, incident.sys_id, person.sys_user_id)
        record = await self._as(person).patch(
            TABLE, incident.sys_id, values, fields=Incident.FIELDS, version=incident.sys_mod_count
        )
        await self._feed.reconcile(TABLE, record, actor=person.sys_user_id)
        return Incident.from_record(record)

    @classmethod
    def _require(cls, incident: Incident, move: Move, verb: str) -> None:
        if not allowed(incident.state, move):
            cls._require_open(incident, verb)

    @staticmethod
    def _require_open(incident: Incident, verb: str) -> None:
        if not incident.state.is_open:
            raise IncidentProblem(
                f"{incident.number} is {incident.state.label.lower()}, so I can't {verb} it"
                + (
                    f" (reopen it first: `/incident reopen {incident.number}`)."
                    if incident.state == IncidentState.RESOLVED
                    else "."
                )
            )
