"""SERVICENOW_MAX_IN_FLIGHT through the whole bot: a burst of commands waits in the bot's queue."""

from __future__ import annotations

import asyncio

import pytest

from sandbox.servicenow import Fault
from sandbox.slack.records import ALICE, BOB, CAROL, GENERAL
from sandbox.stack import Stack

pytestmark = pytest.mark.stack_settings(servicenow_max_in_flight=5)


async def test_thirty_concurrent_commands_keep_five_requests_in_flight_and_all_complete(
    stack: Stack,
) -> None:
    stack.emulator.faults.add(Fault(status=0, delay=0.1, times=-1))
    people = (ALICE, BOB, CAROL)
    replies = await asyncio.gather(
        *(
            stack.slack.send_command(people[n % 3], f"burst {n}", channel_id=GENERAL)
            for n in range(30)
        )
    )
    assert all(reply.status == 200 for reply in replies)
    await stack.slack.wait_for(lambda: len(stack.slack.messages_in(GENERAL)) == 30, timeout=60)
    assert len(stack.emulator.query("incident", "short_descriptionSTARTSWITHburst ")) == 30
    assert stack.emulator.peak_in_flight == 5
