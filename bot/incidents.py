"""Incident use cases: tie the Slack user, ServiceNow and the posted cards together."""

from __future__ import annotations

from dataclasses import dataclass

from bot import blocks
from bot.identity import Identity
from bot.messenger import Messenger
from servicenow.client import ServiceNowClient
from servicenow.records import Incident

SHORT_DESCRIPTION_MAX = 160


@dataclass(frozen=True)
class Created:
    incident: Incident
    card: blocks.Card


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
        self, servicenow: ServiceNowClient, identity: Identity, messenger: Messenger
    ) -> None:
        self._servicenow = servicenow
        self._identity = identity
        self._messenger = messenger

    def card(self, incident: Incident) -> blocks.Card:
        return blocks.incident_card(
            incident, self._servicenow.record_url("incident", incident.sys_id)
        )

    async def create(
        self, slack_user_id: str, text: str, *, correlation_id: str | None = None
    ) -> Created:
        """Open an incident for the person behind `slack_user_id` (one Table API call when known)."""
        person = await self._identity.person(slack_user_id)
        short, description = split_description(text)
        values = {
            "caller_id": person.sys_user_id,
            "short_description": short,
            "description": description,
            "contact_type": "chat",
        }
        record = await self._servicenow.create(
            "incident", values, fields=Incident.FIELDS, correlation_id=correlation_id
        )
        incident = Incident.from_record(record)
        if not incident.caller_name:
            incident = incident.model_copy(update={"caller_name": person.name})
        return Created(incident, self.card(incident))

    async def post(self, channel: str, created: Created) -> str:
        return await self._messenger.post_card(
            channel, created.card, table="incident", sys_id=created.incident.sys_id
        )
