"""The client's own bound on requests in flight, against the emulator over loopback HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from sandbox.servicenow import Emulator, Fault, run_emulator
from servicenow.client import InFlight, ServiceNowClient
from servicenow.query import Query
from tests.support import eventually

BOT_USER, BOT_PASSWORD = "incident.bot", "incident-bot"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with run_emulator(Emulator()) as running:
        yield running


def client(emu: Emulator, bound: int) -> ServiceNowClient:
    return ServiceNowClient(
        emu.instance_url, httpx.BasicAuth(BOT_USER, BOT_PASSWORD), max_in_flight=bound
    )


@pytest.mark.parametrize("bound", [5, 20])
async def test_a_burst_of_creates_never_has_more_than_the_bound_in_flight(
    emu: Emulator, bound: int
) -> None:
    emu.faults.add(Fault(status=0, delay=0.1, times=-1))
    async with client(emu, bound) as sn:
        created = await asyncio.gather(
            *(sn.create("incident", {"short_description": f"burst {n}"}) for n in range(30))
        )
        assert sn.in_flight.active == 0
    assert len({record["sys_id"] for record in created}) == 30
    # the bound is reached (no request waits for a connection in httpx), never passed
    assert emu.peak_in_flight == bound
    assert len(emu.query("incident", "short_descriptionSTARTSWITHburst ")) == 30


async def test_an_urgent_request_goes_ahead_of_every_waiting_ordinary_one(emu: Emulator) -> None:
    emu.faults.add(Fault(status=0, delay=0.1, times=-1))
    done: list[str] = []
    async with client(emu, 1) as sn:
        urgent = sn.urgent()

        async def read(name: str, via: ServiceNowClient) -> None:
            await via.list("sys_user", Query().eq("user_name", "alice"), fields=["sys_id"])
            done.append(name)

        burst = [asyncio.create_task(read(f"create {n}", sn)) for n in range(6)]
        gate = sn.in_flight

        async def queued() -> bool:
            return gate.waiting == 5  # the first is in flight, five wait

        await eventually(queued)
        await asyncio.gather(read("poll", urgent), *burst)
    # the poll waited for the one request already in flight, not for the five queued before it
    assert done.index("poll") == 1
    assert emu.peak_in_flight == 1


async def test_a_write_goes_ahead_of_waiting_reads_and_behind_urgent_ones(emu: Emulator) -> None:
    """A burst of duplicate checks (reads) does not hold back the creates (writes) that follow
    the checks already answered: the first incidents open while later checks wait."""
    emu.faults.add(Fault(status=0, delay=0.1, times=-1))
    done: list[str] = []
    async with client(emu, 1) as sn:

        async def check(name: str, via: ServiceNowClient) -> None:
            await via.list("incident", Query().eq("active", "true"), fields=["sys_id"], limit=1)
            done.append(name)

        async def create(name: str) -> None:
            await sn.create("incident", {"short_description": name})
            done.append(name)

        checks = [asyncio.create_task(check(f"check {n}", sn)) for n in range(4)]

        async def queued(count: int) -> bool:
            return sn.in_flight.waiting == count

        await eventually(lambda: queued(3))  # the first check is in flight, three wait
        opening = asyncio.create_task(create("create"))
        await eventually(lambda: queued(4))
        await asyncio.gather(check("poll", sn.urgent()), opening, *checks)
    # after the check in flight: the poll (urgent), then the create, then the waiting checks
    assert done == ["check 0", "poll", "create", "check 1", "check 2", "check 3"]
    assert emu.peak_in_flight == 1


async def test_a_cancelled_waiter_gives_its_turn_away() -> None:
    gate = InFlight(1)
    release = asyncio.Event()
    order: list[str] = []

    async def hold(name: str) -> None:
        async with gate.slot():
            order.append(name)
            await release.wait()

    first = asyncio.create_task(hold("first"))
    second = asyncio.create_task(hold("second"))
    third = asyncio.create_task(hold("third"))

    async def queued() -> bool:
        return gate.waiting == 2

    await eventually(queued)
    second.cancel()
    release.set()
    await asyncio.gather(first, third)
    with pytest.raises(asyncio.CancelledError):
        await second
    assert order == ["first", "third"]
    assert gate.active == 0 and gate.peak == 1
