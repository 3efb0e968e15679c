"""Typed records parse the Table API's string values (and reference or display-value objects)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from servicenow.records import (
    Approval,
    ApprovalState,
    Incident,
    IncidentState,
    Priority,
    User,
    parse_datetime,
)

Body = Callable[[str], Any]


def test_incident_from_the_documented_get_body(fixture_body: Body) -> None:
    incident = Incident.from_record(fixture_body("table_get_incident_by_sys_id_200.json")["result"])
    assert incident.sys_id == "a9e30c7dc61122760116894de7bcc7bd"
    assert incident.number == "INC0000046"
    assert incident.state is IncidentState.NEW
    assert incident.priority is Priority.MODERATE
    assert (incident.impact, incident.urgency) == (1, 3)
    assert incident.caller_id == "46c6f9efa9fe198101ddf5eed9adf6e7"
    assert incident.assignment_group == "8a4dde73c6112278017a6a4baf547aa7"
    assert incident.assigned_to == ""
    assert incident.sys_mod_count == 4
    assert incident.sys_updated_on == datetime(2015, 11, 1, 22, 37, 27, tzinfo=UTC)
    assert incident.opened_at == datetime(2015, 11, 2, 22, 4, 15, tzinfo=UTC)
    assert incident.active is True


@pytest.mark.parametrize("name", ["table_post_incident_201.json", "table_patch_incident_200.json"])
def test_incident_from_the_documented_write_bodies(fixture_body: Body, name: str) -> None:
    incident = Incident.from_record(fixture_body(name)["result"])
    assert incident.number.startswith("INC")
    assert isinstance(incident.state, IncidentState)
    assert isinstance(incident.priority, Priority)


def test_incident_reads_dot_walked_names_from_flat_keys() -> None:
    raw = {
        "sys_id": "ef43c6d40a0a0b5700c77f9bf387afe3",
        "number": "INC0010002",
        "state": "3",
        "priority": "1",
        "impact": "1",
        "urgency": "1",
        "caller_id": "62826bf03710200044e0bfc8bcbe5df1",
        "caller_id.name": "Abel Tuter",
        "assigned_to": "681b365ec0a80164000fb0b05854a0cd",
        "assigned_to.name": "ITIL User",
        "assignment_group": "",
        "assignment_group.name": "",
        "hold_reason": "1",
        "sys_mod_count": "12",
        "sys_updated_on": "2024-05-02 09:15:10",
        "opened_at": "",
        "active": "false",
    }
    incident = Incident.from_record(raw)
    assert incident.caller_name == "Abel Tuter"
    assert incident.assigned_to_name == "ITIL User"
    assert incident.state is IncidentState.ON_HOLD and incident.state.label == "On Hold"
    assert incident.priority.label == "Critical"
    assert incident.opened_at is None
    assert incident.active is False
    assert set(raw) <= set(Incident.FIELDS)


def test_fields_ask_for_every_dot_walk_the_models_read() -> None:
    assert {"caller_id.name", "assigned_to.name", "assignment_group.name"} <= set(Incident.FIELDS)
    assert {"sysapproval.number", "sysapproval.short_description", "approver.name"} <= set(
        Approval.FIELDS
    )
    assert User.FIELDS == ("sys_id", "user_name", "name", "email", "active")


def test_state_and_priority_labels() -> None:
    assert [state.label for state in IncidentState] == [
        "New",
        "In Progress",
        "On Hold",
        "Resolved",
        "Closed",
        "Canceled",
    ]
    assert [p.label for p in Priority] == ["Critical", "High", "Moderate", "Low", "Planning"]


def test_a_custom_state_does_not_break_parsing(fixture_body: Body) -> None:
    raw = dict(fixture_body("table_get_incident_by_sys_id_200.json")["result"], state="9")
    incident = Incident.from_record(raw)
    assert incident.state == 9
    assert incident.state.label == "State 9"


def test_approval_from_a_display_value_all_body(fixture_body: Body) -> None:
    approval = Approval.from_record(
        fixture_body("sysapproval_approver_pending_list_200.json")["result"][0]
    )
    assert approval.state is ApprovalState.REQUESTED and approval.is_pending
    assert approval.approver == "46d44a23a9fe19810012d100cca80666"
    assert approval.parent_number == "CHG0000001"
    assert approval.parent_short_description == "Rollback Oracle Version"
    assert approval.source_table == "change_request"
    assert approval.due_date is None


def test_approval_from_the_patch_answer(fixture_body: Body) -> None:
    approval = Approval.from_record(
        fixture_body("sysapproval_approver_patch_approve_200.json")["result"]
    )
    assert approval.state is ApprovalState.APPROVED and not approval.is_pending
    assert approval.sys_mod_count == 1


def test_approval_states_keep_servicenow_spelling() -> None:
    assert ApprovalState("not requested") is ApprovalState.NOT_REQUESTED
    assert ApprovalState("not_required") is ApprovalState.NOT_REQUIRED
    assert ApprovalState.NOT_REQUIRED.label == "No Longer Required"
    assert ApprovalState("duplicate").value == "duplicate"


def test_user_from_the_lookup_body(fixture_body: Body) -> None:
    user = User.from_record(fixture_body("sys_user_lookup_by_email_200.json")["result"][0])
    assert (user.user_name, user.name, user.email, user.active) == (
        "abel.tuter",
        "Abel Tuter",
        "abel.tuter@example.com",
        True,
    )


def test_parse_datetime() -> None:
    assert parse_datetime("2024-05-02 09:15:10") == datetime(2024, 5, 2, 9, 15, 10, tzinfo=UTC)
    assert parse_datetime("") is None
    with pytest.raises(ValueError):
        parse_datetime("02/05/2024 09:15")


def test_an_incident_without_a_state_is_refused(fixture_body: Body) -> None:
    raw = dict(fixture_body("table_get_incident_by_sys_id_200.json")["result"])
    del raw["state"]
    with pytest.raises(ValueError):
        Incident.from_record(raw)
