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
        # The caller's and the CI's company and location, where the instance has those tables
        # (core_company / cmn_location; the form leaves them out otherwise). Dot-walked, so they
        # come with the record the feed reads: no further call per subscription.
        FilterField("caller_id.company", "Caller's company", Rows("core_company")),
        FilterField("caller_id.location", "Caller's location", Rows("cmn_location")),
        FilterField("cmdb_ci.company", "CI's company", Rows("core_company")),
        FilterField("cmdb_ci.location", "CI's location", Rows("cmn_location")),
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
