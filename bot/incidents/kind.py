"""Incidents as a `Kind`: how other features (link previews, subscriptions) find, read and render
an incident through `services.kinds`, like every other kind. Incidents keep their own tracker,
service and subcommands; this describes them, and thread replies, link previews and mentions reach
incidents through it (their comments from threads too: `LiveRecords.comment` writes them as
`Incidents.comment` does, signed, once, remembered as Slack's)."""

from __future__ import annotations

from bot.incidents.cards import incident_card, incident_preview
from bot.incidents.service import TABLE, subject
from bot.permissions import Subject
from bot.records.kind import Kind, Record
from servicenow.records import Incident, IncidentState


def _subject(record: Record) -> Subject:
    return subject(Incident.from_record(record))


KIND = Kind(
    table=TABLE,
    label="incident",
    plural="incidents",
    prefix="INC",
    example="INC0010001",
    fields=Incident.FIELDS,
    choices=(),
    news=(),
    closed_states=(str(int(IncidentState.CLOSED)), str(int(IncidentState.CANCELED))),
    card=lambda view: incident_card(Incident.from_record(view.record), view.url, view.latest),
    subject=_subject,
    preview=lambda view: incident_preview(Incident.from_record(view.record), view.url),
)
