"""The duplicate check before an incident is opened: similar open incidents of the last few days.

ServiceNow's keyword search (`123TEXTQUERY321=`) depends on the instance's text index and has no
documented escape, so the check uses what the notes document: one `LIKE` condition per
significant word of the short description (at least two), ANDed (a likely duplicate shares every
one of them),
on open incidents created in the last `DAYS` days. Words are letters and digits only, and every
value goes through `Query`, which escapes `^` and refuses `javascript:`, so nothing a person types
reaches the encoded query raw. It costs one Table API read, made as the person; what the person
may not see (the permission table, or ServiceNow's ACLs when acting as them) is left out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.identity import Person
from bot.incidents.ids import IncidentId
from bot.incidents.service import RESOLVED_OR_LATER, Incidents, NewIncident, subject
from bot.permissions import Action, Guard
from bot.slack.kit import Block, Card, actions, button, context, escape, link, section
from servicenow.errors import BadRequestError, ForbiddenError, NotFoundError, UnsafeQueryValue
from servicenow.query import Query
from servicenow.records import Incident

log = logging.getLogger(__name__)

DAYS = 3  # how far back a similar open incident counts
SHOWN = 3  # at most this many are offered
FETCHED = 10  # read this many, to still have SHOWN after the ones the person may not see
MAX_WORDS = 4  # the longest significant words are the query's
MIN_WORDS = (
    2  # one word in common is no likely duplicate ("before the refresh", "after the refresh")
)
MIN_LENGTH = 3

WORD = re.compile(r"[^\W_]+", re.UNICODE)
STOP_WORDS = frozenset(
    """
    about after again all also and any anyone anything are around aren been before being but
    can cannot cant could did didnt does doesnt doing dont else even ever every for from
    get gets getting got had has have having help her here him his how its just know like
    may me more most much must not now off once one only other our out over please really
    same seems she should since some someone something still such than that the their them
    then there these they this those too under until very was wasnt way were what when where
    which while who why will with won wont would yes yet you your
    """.split()  # noqa: SIM905 (a word list reads better as text)
)  # not "down": in "VPN down" it says what is wrong


def significant_words(text: str) -> list[str]:
    """The words of `text` that say what it is about, longest first (at most MAX_WORDS)."""
    seen: dict[str, None] = {}
    for word in WORD.findall(text.casefold()):
        if len(word) >= MIN_LENGTH and word not in STOP_WORDS and not word.isdecimal():
            seen.setdefault(word, None)
    return sorted(seen, key=len, reverse=True)[:MAX_WORDS]


def similar_query(words: Sequence[str], now: datetime | None = None) -> Query | None:
    """Open incidents of the last DAYS days whose short description contains every word; None
    (no check) for fewer than MIN_WORDS words."""
    if len(words) < MIN_WORDS:
        return None
    since = (now or datetime.now(UTC)) - timedelta(days=DAYS)
    query = (
        Query().eq("active", "true").not_in("state", RESOLVED_OR_LATER).gte("sys_created_on", since)
    )
    for word in words:
        query = query.like("short_description", word)
    return query


@dataclass(frozen=True)
class Candidate:
    incident: Incident
    url: str
    may_comment: bool


class Duplicates:
    """Finds the similar open incidents the person may see."""

    def __init__(self, incidents: Incidents, guard: Guard) -> None:
        self._incidents = incidents
        self._guard = guard

    async def find(self, person: Person, new: NewIncident) -> list[Candidate]:
        query = similar_query(significant_words(new.short_description))
        if query is None:
            return []
        try:
            found = await self._incidents.similar(person, query, FETCHED)
        except (ForbiddenError, NotFoundError, BadRequestError, UnsafeQueryValue) as exc:
            # The check can't be made (an ACL on listing incidents, a query the instance refuses):
            # it never stands in the way of opening. Outages still fail the command as before.
            log.info("duplicate check skipped for %s: %r", person.sys_user_id, exc)
            return []
        policy = self._guard.policy_for(person)
        standing = None
        shown: list[Candidate] = []
        for incident in found:
            about = subject(incident)
            if policy.needs_standing(Action.READ, about, person) and standing is None:
                standing = await self._guard.standing(person)
            if policy.refusal(person, Action.READ, about, standing) is not None:
                continue
            if policy.needs_standing(Action.COMMENT, about, person) and standing is None:
                standing = await self._guard.standing(person)
            may_comment = policy.refusal(person, Action.COMMENT, about, standing) is None
            url = self._incidents.url(incident.sys_id)
            shown.append(Candidate(incident, url, may_comment))
            if len(shown) == SHOWN:
                break
        return shown


def choice_card(short_description: str, candidates: Sequence[Candidate], draft_id: str) -> Card:
    """Only to the person: the similar open incidents, each with Follow this one instead and (where
    they may comment) Add my details as a comment, and Open a new one anyway."""
    count = len(candidates)
    head = (
        f":mag: Before I open *{escape(short_description)}*: "
        f"{'this open incident looks' if count == 1 else f'these {count} open incidents look'} "
        "similar. Is it one of them?"
    )
    blocks: list[Block] = [section(head)]
    for n, candidate in enumerate(candidates):
        incident = candidate.incident
        caller = escape(incident.caller_name) if incident.caller_name else "no caller"
        blocks.append(
            section(
                f"*{link(candidate.url, incident.number)}*  {escape(incident.short_description)}\n"
                f"{escape(incident.state.label)} · caller {caller}"
            )
        )
        value = f"{incident.sys_id}:{draft_id}"
        buttons = [button("Follow this one instead", IncidentId.DRAFT_FOLLOW, value)]
        if candidate.may_comment:
            buttons.append(button("Add my details as a comment", IncidentId.DRAFT_COMMENT, value))
        blocks.append(actions(buttons, block_id=f"draft_{n}"))
    blocks.append(
        actions(
            [button("Open a new one anyway", IncidentId.DRAFT_OPEN, draft_id, style="primary")],
            block_id="draft_open",
        )
    )
    blocks.append(context(f"Open incidents with the same words, from the last {DAYS} days."))
    text = f"{count} similar open incident{'s' if count != 1 else ''} found: open a new one anyway?"
    return Card(text, tuple(blocks))
