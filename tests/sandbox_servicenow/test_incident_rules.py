"""Incident business logic: numbering, defaults, priority, journal, data policy, state fields."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sandbox.servicenow import DataPolicyError, Emulator, run_emulator
from sandbox.servicenow.seed import ALICE, BOB, sys_id_for

INC1 = sys_id_for("incident", "INC0000001")
INC3 = sys_id_for("incident", "INC0000003")
INC4 = sys_id_for("incident", "INC0000004")
RESOLVE = {"state": "6", "close_code": "Solution provided", "close_notes": "Fixed it."}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 5, 2, 9, 15, 10, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def timed(clock: Clock) -> AsyncIterator[Emulator]:
    async with run_emulator(Emulator(clock=clock)) as emulator:
        yield emulator


def test_new_numbers_start_at_0010001_per_prefix() -> None:
    emulator = Emulator()
    assert emulator.insert("incident", {})["number"] == "INC0010001"
    assert emulator.insert("incident", {})["number"] == "INC0010002"
    assert emulator.insert("change_request", {})["number"] == "CHG0010001"
    assert emulator.insert("sc_request", {})["number"] == "REQ0010001"
    assert emulator.insert("sc_req_item", {})["number"] == "RITM0010001"
    assert emulator.query("incident", "numberSTARTSWITHINC00000^ORDERBYnumber")[0]["number"] == (
        "INC0000001"
    )


def test_seeded_sys_ids_are_deterministic() -> None:
    assert Emulator().get("incident", INC1) is not None
    assert Emulator().get("sys_user", ALICE)["email"] == "alice@example.com"  # type: ignore[index]


def test_insert_defaults(clock: Clock) -> None:
    emulator = Emulator(clock=clock)
    record = emulator.insert("incident", {"short_description": "x"}, as_user="bob.martin")
    assert {k: record[k] for k in ("state", "incident_state", "impact", "urgency", "priority")} == {
        "state": "1",
        "incident_state": "1",
        "impact": "3",
        "urgency": "3",
        "priority": "5",
    }
    assert (record["category"], record["active"], record["approval"]) == (
        "inquiry",
        "true",
        "not requested",
    )
    now = "2024-05-02 09:15:10"
    assert record["opened_at"] == record["sys_created_on"] == record["sys_updated_on"] == now
    assert record["opened_by"] == BOB
    assert record["sys_created_by"] == record["sys_updated_by"] == "bob.martin"
    assert record["sys_mod_count"] == "0"
    assert re.fullmatch(r"[0-9a-f]{32}", record["sys_id"])


@pytest.mark.parametrize(
    ("impact", "urgency", "priority"),
    [
        ("1", "1", "1"),
        ("1", "2", "2"),
        ("1", "3", "3"),
        ("2", "1", "2"),
        ("2", "2", "3"),
        ("2", "3", "4"),
        ("3", "1", "3"),
        ("3", "2", "4"),
        ("3", "3", "5"),
    ],
)
async def test_priority_comes_from_impact_and_urgency_never_from_the_request(
    client: httpx.AsyncClient, impact: str, urgency: str, priority: str
) -> None:
    response = await client.post(
        "/api/now/table/incident",
        json={"short_description": "p", "impact": impact, "urgency": urgency, "priority": "1"},
    )
    assert response.json()["result"]["priority"] == priority


def test_priority_is_recomputed_on_update_and_written_priority_ignored() -> None:
    emulator = Emulator()
    record = emulator.update("incident", INC1, {"impact": "1", "priority": "5"})
    assert record["priority"] == "2"  # impact 1 x urgency 2


async def test_every_write_bumps_mod_count_and_updated_stamp(timed: Emulator, clock: Clock) -> None:
    async with httpx.AsyncClient(
        base_url=timed.instance_url, auth=("bob.martin", "bob.martin")
    ) as c:
        before = timed.get("incident", INC1)
        assert before is not None
        clock.advance(61)
        first = (await c.patch(f"/api/now/table/incident/{INC1}", json={"urgency": "1"})).json()
        clock.advance(1)
        second = (await c.patch(f"/api/now/table/incident/{INC1}", json={"comments": "hi"})).json()
    assert int(first["result"]["sys_mod_count"]) == int(before["sys_mod_count"]) + 1
    assert int(second["result"]["sys_mod_count"]) == int(before["sys_mod_count"]) + 2
    assert first["result"]["sys_updated_on"] == "2024-05-02 09:16:11"
    assert second["result"]["sys_updated_on"] == "2024-05-02 09:16:12"
    assert second["result"]["sys_updated_by"] == "bob.martin"
    assert second["result"]["sys_created_by"] == before["sys_created_by"]


def test_an_update_that_changes_nothing_is_not_a_write() -> None:
    emulator = Emulator()
    before = emulator.get("incident", INC1)
    after = emulator.update("incident", INC1, {"urgency": before["urgency"]})  # type: ignore[index]
    assert after["sys_mod_count"] == before["sys_mod_count"]  # type: ignore[index]


def test_clearing_a_choice_field_with_empty_string_is_ignored() -> None:
    emulator = Emulator()
    assert emulator.update("incident", INC1, {"impact": ""})["impact"] == "2"


async def test_journal_fields_go_to_sys_journal_field_and_read_back_empty(
    timed: Emulator, clock: Clock
) -> None:
    async with httpx.AsyncClient(
        base_url=timed.instance_url, auth=("incident.bot", "incident-bot")
    ) as c:
        clock.advance(60)
        await c.patch(f"/api/now/table/incident/{INC1}", json={"comments": "first"})
        clock.advance(60)
        response = await c.patch(
            f"/api/now/table/incident/{INC1}", json={"comments": "second", "work_notes": "internal"}
        )
        assert response.json()["result"]["comments"] == ""
        assert [e["value"] for e in timed.journal(INC1)][:2] == ["second", "first"]
        assert timed.journal(INC1, "work_notes")[0] == {
            "sys_id": timed.journal(INC1, "work_notes")[0]["sys_id"],
            "sys_created_on": "2024-05-02 09:17:10",
            "name": "incident",
            "element_id": INC1,
            "sys_tags": "",
            "value": "internal",
            "sys_created_by": "incident.bot",
            "element": "work_notes",
        }
        shown = await c.get(
            f"/api/now/table/incident/{INC1}",
            params={"sysparm_display_value": "true", "sysparm_fields": "comments,work_notes"},
        )
    comments = shown.json()["result"]["comments"]
    assert comments.startswith(
        "2024-05-02 09:17:10 - Incident Bot (Additional comments)\nsecond\n\n"
        "2024-05-02 09:16:10 - Incident Bot (Additional comments)\nfirst\n\n"
    )
    assert shown.json()["result"]["work_notes"] == (
        "2024-05-02 09:17:10 - Incident Bot (Work notes)\ninternal\n\n"
    )


async def test_resolving_without_close_fields_is_a_data_policy_403(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    for body in ({"state": "6"}, {"state": "6", "close_code": "Duplicate"}, {"state": "7"}):
        response = await client.patch(f"/api/now/table/incident/{INC1}", json=body)
        assert response.status_code == 403
        assert "Data Policy Exception" in response.json()["error"]["detail"]
    assert emulator.get("incident", INC1)["state"] == "1"  # type: ignore[index]
    only_notes = await client.patch(
        f"/api/now/table/incident/{INC1}", json={"state": "6", "close_code": "Duplicate"}
    )
    assert only_notes.json()["error"]["detail"].endswith("mandatory: Close notes")


async def test_data_policy_can_be_switched_off(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.data_policy_enabled = False
    response = await client.patch(f"/api/now/table/incident/{INC1}", json={"state": "6"})
    assert response.status_code == 200


async def test_resolve_then_close_sets_who_and_when_and_deactivates(
    timed: Emulator, clock: Clock
) -> None:
    async with httpx.AsyncClient(
        base_url=timed.instance_url, auth=("bob.martin", "bob.martin")
    ) as c:
        resolved = (await c.patch(f"/api/now/table/incident/{INC1}", json=RESOLVE)).json()["result"]
        clock.advance(3600)
        closed = (await c.patch(f"/api/now/table/incident/{INC1}", json={"state": "7"})).json()
    assert resolved["resolved_at"] == "2024-05-02 09:15:10"
    assert resolved["resolved_by"]["value"] == BOB
    assert (resolved["active"], resolved["incident_state"]) == ("true", "6")
    assert closed["result"]["closed_at"] == "2024-05-02 10:15:10"
    assert closed["result"]["closed_by"]["value"] == BOB
    assert closed["result"]["active"] == "false"


def test_cancel_deactivates() -> None:
    assert Emulator().update("incident", INC1, {"state": "8"})["active"] == "false"


def test_reopen_clears_resolution_stamps_and_counts() -> None:
    emulator = Emulator()
    reopened = emulator.update("incident", INC4, {"state": "2"})
    assert (reopened["resolved_at"], reopened["resolved_by"], reopened["active"]) == (
        "",
        "",
        "true",
    )
    assert reopened["reopen_count"] == "1"


def test_on_hold_needs_a_reason_and_leaving_hold_clears_it() -> None:
    emulator = Emulator()
    with pytest.raises(DataPolicyError) as error:
        emulator.update("incident", INC1, {"state": "3"})
    assert error.value.labels == ["On hold reason"]
    held = emulator.update("incident", INC1, {"state": "3", "hold_reason": "4"})
    assert held["hold_reason"] == "4"
    assert emulator.get("incident", INC3)["hold_reason"] == "1"  # type: ignore[index]
    assert emulator.update("incident", INC3, {"state": "2"})["hold_reason"] == ""


def test_reassignment_is_counted() -> None:
    emulator = Emulator()
    before = int(emulator.get("incident", INC1)["reassignment_count"])  # type: ignore[index]
    after = emulator.update("incident", INC1, {"assigned_to": BOB})
    assert int(after["reassignment_count"]) == before + 1
