"""One request, one effect: writes that get no answer are looked for, never sent again blindly.

ServiceNow's numbers scaled by 1/50: the client gives up after 0.2 s (10 s), a transaction may
commit up to the horizon, 1.8 s (90 s: the 60 s quota plus queueing) after it was sent.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from sandbox.servicenow import Emulator, Fault, run_emulator
from servicenow.client import ServiceNowClient, Write, WritePolicy, tracking_writes
from servicenow.errors import WriteNotDoneError, WriteUncertainError
from servicenow.records import Incident

BOT = httpx.BasicAuth("incident.bot", "incident-bot")
SCALE = 1 / 50
TIMEOUT = 10 * SCALE
HORIZON = 90 * SCALE
TABLE_API = "/api/now/table/"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with run_emulator(Emulator()) as running:
        yield running


def client(emu: Emulator, horizon: float = HORIZON) -> ServiceNowClient:
    return ServiceNowClient(
        emu.instance_url,
        BOT,
        timeout=TIMEOUT,
        writes=WritePolicy(horizon=horizon, first_check=0.02, max_check_interval=0.1),
    )


def sent(emu: Emulator, method: str, table: str = "incident") -> list[str]:
    return [
        r.path
        for r in emu.requests
        if r.method == method and r.path.startswith(f"{TABLE_API}{table}")
    ]


def with_correlation(emu: Emulator, correlation_id: str) -> list[dict[str, str]]:
    return emu.query("incident", f"correlation_id={correlation_id}")


@pytest.mark.parametrize("seconds", [11, 25, 60])
async def test_a_create_answered_late_makes_one_incident_and_returns_it(
    emu: Emulator, seconds: int
) -> None:
    emu.faults.add(Fault.slow(seconds * SCALE, method="POST"))
    async with client(emu) as sn:
        with tracking_writes() as writes:
            record = await sn.create(
                "incident", {"short_description": "slow"}, correlation_id=f"t:{seconds}"
            )
    [row] = with_correlation(emu, f"t:{seconds}")
    assert record["sys_id"] == row["sys_id"]
    assert len(sent(emu, "POST")) == 1
    assert writes == [Write("POST", "incident", row["sys_id"], row["number"])]


async def test_a_create_that_commits_but_is_never_answered_is_found(emu: Emulator) -> None:
    emu.faults.add(Fault.commits_unanswered(method="POST"))
    async with client(emu) as sn:
        record = await sn.create(
            "incident", {"short_description": "lost"}, fields=Incident.FIELDS, correlation_id="t:x"
        )
    [row] = with_correlation(emu, "t:x")
    assert Incident.from_record(record).number == row["number"]
    assert len(sent(emu, "POST")) == 1


async def test_a_create_that_never_lands_is_not_sent_again_and_says_so_after_the_horizon(
    emu: Emulator,
) -> None:
    # The gateway gives up on the node (504, after our timeout); the node never commits.
    emu.faults.add(Fault(status=504, delay=TIMEOUT * 1.5, method="POST"))
    started = time.monotonic()
    async with client(emu, horizon=0.6) as sn:
        with tracking_writes() as writes, pytest.raises(WriteNotDoneError):
            await sn.create("incident", {"short_description": "gone"}, correlation_id="t:gone")
    assert time.monotonic() - started >= 0.6
    assert with_correlation(emu, "t:gone") == []
    assert len(sent(emu, "POST")) == 1
    assert writes == []


async def test_a_create_whose_fate_cannot_be_read_is_uncertain(emu: Emulator) -> None:
    emu.faults.add(Fault.commits_unanswered(method="POST"))
    emu.faults.add(Fault(status=503, times=-1, method="GET", path_contains="/incident"))
    async with client(emu, horizon=0.4) as sn:
        sn.retry = sn.retry.never()
        with tracking_writes() as writes, pytest.raises(WriteUncertainError) as caught:
            await sn.create("incident", {"short_description": "?"}, correlation_id="t:unknown")
    assert "may" not in caught.value.what and "created" in caught.value.what
    assert len(sent(emu, "POST")) == 1
    assert writes == [Write("POST", "incident", certain=False)]


async def test_a_create_without_correlation_id_is_uncertain_not_repeated(emu: Emulator) -> None:
    emu.faults.add(Fault.slow(TIMEOUT * 1.5, method="POST"))
    async with client(emu) as sn:
        with pytest.raises(WriteUncertainError):
            await sn.create("incident", {"short_description": "no id"})
    assert len(sent(emu, "POST")) == 1


# -- journal writes --------------------------------------------------------------------------------


def new_incident(emu: Emulator) -> dict[str, str]:
    return emu.insert("incident", {"short_description": "journal"})


@pytest.mark.parametrize("seconds", [11, 15, 60])
async def test_a_slow_comment_is_written_once(emu: Emulator, seconds: int) -> None:
    incident = new_incident(emu)
    emu.faults.add(Fault.slow(seconds * SCALE, method="PATCH"))
    async with client(emu) as sn:
        record = await sn.patch(
            "incident",
            incident["sys_id"],
            {"comments": "Rebooted the router\n\n— Alice (via Slack)"},
            fields=Incident.FIELDS,
            version=incident["sys_mod_count"],
        )
    assert [e["value"] for e in emu.journal(incident["sys_id"])] == [
        "Rebooted the router\n\n— Alice (via Slack)"
    ]
    assert int(record["sys_mod_count"]) == int(incident["sys_mod_count"]) + 1
    assert record["number"] == incident["number"]
    assert len(sent(emu, "PATCH")) == 1


async def test_an_identical_older_comment_is_not_mistaken_for_the_new_one(emu: Emulator) -> None:
    incident = new_incident(emu)
    text = "+1"
    emu.update("incident", incident["sys_id"], {"comments": text})
    version = (emu.get("incident", incident["sys_id"]) or {})["sys_mod_count"]
    emu.faults.add(Fault(status=504, delay=TIMEOUT * 1.5, method="PATCH"))
    async with client(emu, horizon=0.5) as sn:
        with tracking_writes() as writes, pytest.raises(WriteNotDoneError):
            await sn.patch("incident", incident["sys_id"], {"comments": text}, version=version)
    assert len(emu.journal(incident["sys_id"])) == 1
    assert len(sent(emu, "PATCH")) == 1
    assert writes == []


async def test_an_approval_decision_that_commits_unanswered_is_found(emu: Emulator) -> None:
    [approval] = emu.query("sysapproval_approver", "state=requested")[:1]
    emu.faults.add(Fault.commits_unanswered(method="PATCH"))
    async with client(emu) as sn:
        record = await sn.patch(
            "sysapproval_approver",
            approval["sys_id"],
            {"state": "approved", "comments": "Approved via Slack by Dave"},
            version=approval["sys_mod_count"],
        )
    assert record["state"] == "approved"
    assert [e["value"] for e in emu.journal(approval["sys_id"])].count(
        "Approved via Slack by Dave"
    ) == 1
    assert len(sent(emu, "PATCH", "sysapproval_approver")) == 1


async def test_a_patch_without_journal_fields_may_be_repeated(emu: Emulator) -> None:
    incident = new_incident(emu)
    emu.faults.add(Fault.slow(TIMEOUT * 1.5, method="PATCH"))
    async with client(emu) as sn:
        record = await sn.patch("incident", incident["sys_id"], {"urgency": "1"})
    assert record["urgency"] == "1"
    assert len(sent(emu, "PATCH")) == 2
