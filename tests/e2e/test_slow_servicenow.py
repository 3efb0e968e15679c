"""Exactly once, whatever fails (issue #12): a slow or silent ServiceNow never gets a write twice,
and the person is told the truth — the number once it is known, or exactly what is uncertain.

ServiceNow's numbers are scaled by 1/50: the bot waits 0.2 s for an answer (10 s in production)
and a write that got none may still commit for 1.8 s after it was sent (90 s: the instance's
60 s transaction quota plus queueing).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import manifest
from bot.app import ServiceNowTiming
from sandbox.servicenow import Fault, seed
from sandbox.slack import Message
from sandbox.slack.records import ALICE, BOB, CAROL, GENERAL
from sandbox.stack import Stack, run_stack
from tests.e2e.test_approvals import click, request_dm
from tests.support import eventually

SCALE = 1 / 50


@pytest.fixture
async def slow(tmp_path: Path) -> AsyncIterator[Stack]:
    async with run_stack(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        servicenow_poll_seconds=0,
        e_signature_tables="",  # the seeded change approval is decided with its button here
        timing=ServiceNowTiming(timeout=10 * SCALE, write_horizon=90 * SCALE),
    ) as stack:
        yield stack
        assert stack.slack.problems == []
        assert {call.method for call in stack.slack.calls} <= set(manifest.METHODS)


def told(stack: Stack, user: str) -> list[str]:
    return [e.text for e in stack.slack.ephemerals_for(user) if e.source != "ack"]


def posts(stack: Stack, method: str, table: str = "incident") -> int:
    prefix = f"/api/now/table/{table}"
    return sum(
        1 for r in stack.emulator.requests if r.method == method and r.path.startswith(prefix)
    )


def created(stack: Stack, text: str) -> list[dict[str, str]]:
    return stack.emulator.query("incident", f"short_description={text}")


@pytest.mark.parametrize("seconds", [11, 25, 60])
async def test_a_create_answered_late_opens_one_incident_and_shows_its_number(
    slow: Stack, seconds: int
) -> None:
    slow.emulator.faults.add(Fault.slow(seconds * SCALE, method="POST", path_contains="incident"))
    text = f"VPN down {seconds}"
    await slow.slack.send_command(ALICE, text, channel_id=GENERAL)
    [card] = await slow.slack.wait_for(lambda: slow.slack.messages_in(GENERAL))
    [row] = created(slow, text)
    assert row["number"] in card.text
    assert row["correlation_id"].startswith("slack:")
    assert posts(slow, "POST") == 1
    assert told(slow, ALICE) == []


async def test_a_create_never_answered_still_shows_the_one_incident(slow: Stack) -> None:
    slow.emulator.faults.add(Fault.commits_unanswered(method="POST", path_contains="incident"))
    await slow.slack.send_command(ALICE, "mail is down", channel_id=GENERAL)
    [card] = await slow.slack.wait_for(lambda: slow.slack.messages_in(GENERAL))
    [row] = created(slow, "mail is down")
    assert row["number"] in card.text
    assert posts(slow, "POST") == 1


async def test_when_it_cannot_be_known_the_bot_says_what_is_uncertain_and_a_retry_acts_not(
    slow: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.slack.interactions")
    slow.emulator.faults.add(Fault.commits_unanswered(method="POST", path_contains="incident"))
    # The duplicate check's read goes through; every look-up for the new record after it fails.
    slow.emulator.faults.add(Fault(status=0, times=1, method="GET", path_contains="/incident"))
    slow.emulator.faults.add(Fault(status=503, times=-1, method="GET", path_contains="/incident"))
    await slow.slack.send_command(ALICE, "disk full", channel_id=GENERAL)
    [answer] = await slow.slack.wait_for(lambda: told(slow, ALICE), timeout=15)
    assert "can't tell whether a new incident record was created" in answer
    assert "`/incident list` before trying again" in answer
    assert "nothing was changed" not in answer
    slow.emulator.faults.clear()
    await slow.slack.send_command(ALICE, "disk full", channel_id=GENERAL, retry_num=1)

    async def ignored() -> bool:
        return any("ignoring a repeat of command:" in r.getMessage() for r in caplog.records)

    await eventually(ignored)
    assert len(created(slow, "disk full")) == 1 and posts(slow, "POST") == 1


async def test_a_201_with_an_unexpected_record_is_not_called_nothing_changed(slow: Stack) -> None:
    slow.emulator.faults.add(
        Fault(status=201, body={"result": []}, method="POST", path_contains="incident")
    )
    await slow.slack.send_command(ALICE, "odd answer", channel_id=GENERAL)
    [answer] = await slow.slack.wait_for(lambda: told(slow, ALICE))
    assert "ServiceNow accepted the new incident" in answer
    assert "Check `/incident list` before trying again" in answer
    assert "nothing was changed" not in answer


# -- journal writes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [11, 15])
async def test_a_slow_comment_is_added_once_and_confirmed(slow: Stack, seconds: int) -> None:
    [row] = slow.emulator.query("incident", "number=INC0000001")
    before = len(slow.emulator.journal(row["sys_id"]))
    slow.emulator.faults.add(Fault.slow(seconds * SCALE, method="PATCH"))
    await slow.slack.send_command(ALICE, "comment INC0000001 rebooted it", channel_id=GENERAL)
    [answer] = await slow.slack.wait_for(lambda: told(slow, ALICE))
    assert "Added your comment to INC0000001" in answer
    entries = slow.emulator.journal(row["sys_id"])
    assert len(entries) == before + 1
    assert [e for e in entries if "rebooted it" in e["value"]]
    assert posts(slow, "PATCH") == 1


async def test_a_slow_work_note_that_never_lands_is_not_resent_and_says_nothing_changed(
    slow: Stack,
) -> None:
    [row] = slow.emulator.query("incident", "number=INC0000001")
    slow.emulator.faults.add(Fault(status=504, delay=15 * SCALE, method="PATCH"))
    await slow.slack.send_command(BOB, "note INC0000001 checked logs", channel_id=GENERAL)
    [answer] = await slow.slack.wait_for(lambda: told(slow, BOB), timeout=15)
    assert "nothing was changed" in answer and "did not happen" in answer
    notes = slow.emulator.journal(row["sys_id"], "work_notes")
    assert not [e for e in notes if "checked logs" in e["value"]]
    assert posts(slow, "PATCH") == 1


async def test_an_approval_answered_never_is_decided_and_commented_once(slow: Stack) -> None:
    dm: Message = await request_dm(slow)
    slow.emulator.faults.add(
        Fault.commits_unanswered(method="PATCH", path_contains="sysapproval_approver")
    )
    await click(slow, CAROL, dm, "approval_approve")
    await slow.slack.wait_for(lambda: "Approved by Carol Diaz" in str(dm.blocks), timeout=15)
    comments = [
        e["value"] for e in slow.emulator.journal(seed.CHANGE_APPROVAL) if "Approved" in e["value"]
    ]
    assert len(comments) == 1
    assert posts(slow, "PATCH", "sysapproval_approver") == 1
