"""Incidents as channels can subscribe to them: filters from the instance's own choice lists."""

from __future__ import annotations

from bot.feed.filters import Choices, FilterField, Flag, Rows, Subscribable
from servicenow.records import IncidentState

INCIDENTS = Subscribable(
    table="incident",
    label="Incidents",
    filters=(
        FilterField("priority", "Priority", Choices("incident", "priority")),
        FilterField("assignment_group", "Assignment group", Rows("sys_user_group")),
        FilterField("category", "Category", Choices("incident", "category")),
        FilterField("state", "State", Choices("incident", "state")),
        # Where the instance has them (core_company / cmn_location): the form leaves them out
        # otherwise.
        FilterField("company", "Company", Rows("core_company")),
        FilterField("location", "Location", Rows("cmn_location")),
    ),
    # Major Incident Management (a plugin): offered where the instance has its choice list.
    flags=(
        Flag(
            "major",
            "Only major incidents",
            "major_incident_state",
            ("accepted",),
            present_if=Choices("incident", "major_incident_state"),
        ),
    ),
    done_states=(
        str(int(IncidentState.RESOLVED)),
        str(int(IncidentState.CLOSED)),
        str(int(IncidentState.CANCELED)),
    ),
)
