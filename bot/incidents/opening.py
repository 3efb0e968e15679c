"""Opening an incident after the duplicate check, and the three choices offered when it finds some.

`Opening.open` runs after the ack (never before it): it looks for similar open incidents
(bot/incidents/duplicates.py) and either opens the incident at once or keeps it as a draft and
asks the person, only them, with **Follow this one instead**, **Add my details as a comment** and
**Open a new one anyway**. The three share one idempotency key (`draft:<id>`): a double click, a
Slack retry or a second button acts once, and a failure that wrote nothing lets them choose again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from bot.identity import Identity, Person
from bot.incidents.cards import follow_confirmation
from bot.incidents.duplicates import Duplicates, choice_card
from bot.incidents.ids import IncidentId
from bot.incidents.service import IncidentProblem, Incidents, NewIncident
from bot.permissions import Action, Grant, Need
from bot.slack.interactions import Interaction, Interactions
from bot.slack.kit import Card, escape, notice
from servicenow.records import Incident
from storage import Draft, Drafts, Followers

GONE = (
    "That choice is no longer there (it was made already, or it is too old). Nothing was changed."
)


@dataclass(frozen=True)
class Opening:
    incidents: Incidents
    duplicates: Duplicates
    drafts: Drafts
    identity: Identity

    async def open(
        self,
        it: Interaction,
        person: Person,
        new: NewIncident,
        *,
        correlation_id: str,
        post_to: str | None,
        thread_ts: str | None = None,
        caller: Person | None = None,
    ) -> Card | None:
        """Open `new` unless similar open incidents exist; then keep it and return the question."""
        candidates = await self.duplicates.find(person, new)
        if not candidates:
            await self.incidents.create(
                person,
                new,
                correlation_id=correlation_id,
                post_to=post_to,
                for_user=it.user,
                caller=caller,
                thread_ts=thread_ts,
            )
            return None
        data = {"new": asdict(new), "caller": (caller or person).slack_user_id}
        draft = await self.drafts.add(it.user, post_to or "", thread_ts, correlation_id, data)
        return choice_card(new.short_description, candidates, draft.id)

    async def draft(self, it: Interaction) -> Draft:
        found = await self.drafts.get(draft_of(it), it.user)
        if found is None:
            raise IncidentProblem(GONE)
        return found

    async def open_anyway(self, it: Interaction, person: Person) -> NewIncident:
        draft = await self.draft(it)
        new = NewIncident(**draft.data["new"])
        caller_id = str(draft.data.get("caller") or person.slack_user_id)
        caller = (
            person
            if caller_id == person.slack_user_id
            else await self.identity.person(caller_id, for_someone_else=True)
        )
        await self.incidents.create(
            person,
            new,
            correlation_id=draft.correlation_id,
            post_to=draft.channel or None,  # none: the incident channel announces it
            for_user=it.user,
            caller=caller,
            thread_ts=draft.thread_ts,
        )
        return new


def draft_of(it: Interaction) -> str:
    """The draft a choice is about: buttons carry `<sys_id>:<draft>` or `<draft>`."""
    before, _, after = it.value.partition(":")
    return after or before


def details(new: NewIncident) -> str:
    """What the person wrote, as a comment on the incident they chose instead."""
    if new.description.startswith(new.short_description):
        return new.description
    return "\n\n".join(part for part in (new.short_description, new.description) if part)


def install(opening: Opening, interactions: Interactions, followers: Followers) -> None:
    incidents = opening.incidents

    def on(action: Action) -> Callable[[Interaction], Need[Incident]]:
        return lambda it: incidents.by_sys_id(action, it.record)

    def key(it: Interaction) -> str:
        return f"draft:{draft_of(it)}"

    async def follow(it: Interaction, grant: Grant[Incident]) -> None:
        await opening.draft(it)
        person, incident = grant.person, grant.record
        await followers.follow(
            "incident", incident.sys_id, person.slack_user_id, person.sys_user_id
        )
        await interactions.reply(it, follow_confirmation(incident, True), replace=True)

    async def comment(it: Interaction, grant: Grant[Incident]) -> None:
        draft = await opening.draft(it)
        new = NewIncident(**draft.data["new"])
        changed = await incidents.comment(grant.person, grant.record, details(new), public=True)
        done = f":white_check_mark: Added your details to {escape(changed.number)} as a comment."
        await interactions.reply(it, notice(done), replace=True)

    async def open_anyway(it: Interaction, grant: Grant[None]) -> None:
        new = await opening.open_anyway(it, grant.person)
        text = f":white_check_mark: Opening a new incident: {escape(new.short_description)}…"
        await interactions.reply(it, notice(text), replace=True)

    def creating(it: Interaction) -> Need[None]:
        return Need(Action.CREATE)

    interactions.on_action(IncidentId.DRAFT_FOLLOW, follow, need=on(Action.READ), key=key)
    interactions.on_action(IncidentId.DRAFT_COMMENT, comment, need=on(Action.COMMENT), key=key)
    interactions.on_action(IncidentId.DRAFT_OPEN, open_anyway, need=creating, key=key)
