"""Every row of the permission table (README "Who may do what", bot/permissions.py) in every way of
running the bot (issue #13): end to end over loopback, against the emulator's own ACLs.

A mode is the bot's settings plus a `prepare(stack, people)` step run once the stack is up; adding
one (linked accounts) is one entry in MODES. In the integration-user mode the bot's table decides
and a refused write never reaches ServiceNow; acting as the person, ServiceNow's ACLs decide (a
refused write reaches it and is answered 403 for that person) and its audit trail names the
person. Either way the person is told what was refused and why, and nothing changes.

Seed: Alice is a caller with no roles (every seeded incident is hers), Bob and Carol have itil
(Bob in Service Desk and Hardware, Carol in Network and CAB; Carol approves RITM0000001 and
CHG0000001), Dave has no ServiceNow account.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot import manifest
from sandbox.servicenow import seed
from sandbox.slack.records import ALICE, BOB, CAROL, DAVE, GENERAL, View
from sandbox.stack import Stack, run_stack
from storage.repositories import Followers
from tests.e2e.steps import (
    answer,
    card_in_general,
    choose_state,
    click,
    incident,
    jwt_settings,
    modal_text,
    table_writes,
    told,
    trust_jwt_key,
)
from tests.support import link

INTEGRATION_USER = "incident.bot"
# Who has a ServiceNow account: Slack user → ServiceNow user_name (Dave has none).
PEOPLE = {ALICE: "alice.chen", BOB: "bob.martin", CAROL: "carol.diaz"}
Prepare = Callable[[Stack, Mapping[str, str]], Awaitable[None]]


async def _nothing_to_prepare(stack: Stack, people: Mapping[str, str]) -> None:
    return None


async def _trust_the_key(stack: Stack, people: Mapping[str, str]) -> None:
    trust_jwt_key(stack)


@dataclass(frozen=True)
class Mode:
    """One way of running the bot: its settings for run_stack (given the test's tmp_path), and
    `prepare(stack, people)`, run once the stack is up, with everyone who has a ServiceNow
    account (Slack user id → user_name): trust the bot's key, link each person's account…"""

    name: str
    as_person: bool  # ServiceNow's ACLs decide, and its audit trail names the person
    settings: Callable[[Path], dict[str, Any]]
    prepare: Prepare

    def writer(self, user_name: str) -> str:
        """Who ServiceNow records as having written for `user_name`."""
        return user_name if self.as_person else INTEGRATION_USER


async def _link_everyone(stack: Stack, people: Mapping[str, str]) -> None:
    """Each person connects their own account: Home tab button, consent page, callback."""
    for slack_user, user_name in people.items():
        await link(stack, slack_user, user_name)


MODES = [
    Mode("integration", False, lambda _: {}, _nothing_to_prepare),
    Mode("jwt", True, jwt_settings, _trust_the_key),
    Mode("linked", True, lambda _: {"linked": True}, _link_everyone),
]


@pytest.fixture(params=MODES, ids=[m.name for m in MODES])
def mode(request: pytest.FixtureRequest) -> Mode:
    mode: Mode = request.param
    return mode


@pytest.fixture
async def stack(mode: Mode, tmp_path: Path) -> AsyncIterator[Stack]:
    async with run_stack(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        servicenow_poll_seconds=0,
        e_signature_tables="",  # both seeded approvals are decided with the buttons here
        **mode.settings(tmp_path),
    ) as running:
        await mode.prepare(running, PEOPLE)
        yield running
        assert running.slack.problems == []
        assert {call.method for call in running.slack.calls} <= set(manifest.METHODS)


def carols_incident(stack: Stack, **values: str) -> str:
    """An incident Carol called in, in Network (neither Alice's nor Bob's groups)."""
    row = stack.emulator.insert(
        "incident",
        {
            "caller_id": seed.CAROL,
            "opened_by": seed.CAROL,
            "short_description": "VPN drops every hour",
            "assignment_group": seed.NETWORK,
            **values,
        },
        as_user="admin",
    )
    return row["number"]


def alices_new_incident(stack: Stack) -> str:
    row = stack.emulator.insert(
        "incident",
        {"caller_id": seed.ALICE, "opened_by": seed.ALICE, "short_description": "Mouse jumps"},
        as_user="alice.chen",
    )
    return row["number"]


async def say(stack: Stack, user: str, text: str) -> str:
    """`/incident <text>` in #general, and what `user` is told next."""
    before = len(told(stack, user))
    await stack.slack.send_command(user, text, channel_id=GENERAL)
    return await answer(stack, user, before)


def card_posted(stack: Stack, number: str) -> bool:
    return any(number in m.text for m in stack.slack.messages_in(GENERAL))


def modal(stack: Stack, user: str, callback_id: str) -> View | None:
    """The person's open modal, if it is this form."""
    view = stack.slack.current_modal(user)
    return view if view and view.view["callback_id"] == callback_id else None


def decided(stack: Stack, sys_id: str, state: str) -> dict[str, str] | None:
    row = stack.emulator.get("sysapproval_approver", sys_id)
    return row if row and row["state"] == state else None


async def resolve(stack: Stack, user: str, number: str) -> None:
    """`/incident resolve`, and the form submitted if one opens (a refusal may come first)."""
    before = len(told(stack, user))
    await stack.slack.send_command(user, f"resolve {number}", channel_id=GENERAL)
    form = await stack.slack.wait_for(
        lambda: modal(stack, user, "incident_resolve") or len(told(stack, user)) > before
    )
    if not isinstance(form, View):
        return  # refused before any form
    await stack.slack.send_view_submission(
        user,
        form.id,
        {
            "close_code": {
                "value": {
                    "type": "static_select",
                    "selected_option": {"value": "Solution provided"},
                }
            },
            "close_notes": {"value": {"type": "plain_text_input", "value": "Replaced the cable."}},
        },
    )


class Unchanged:
    """A refusal changed nothing: the record and its journal as they were, and no write reached
    ServiceNow — or, when ServiceNow decides, the one write that reached it was refused (403)
    for that person."""

    def __init__(self, stack: Stack, mode: Mode, table: str, sys_id: str) -> None:
        self.stack, self.mode, self.table, self.sys_id = stack, mode, table, sys_id
        self.row = stack.emulator.get(table, sys_id)
        self.journal = self._journal()
        self.mark = len(stack.emulator.requests)

    def _journal(self) -> list[dict[str, str]]:
        return self.stack.emulator.journal(self.sys_id, "comments") + self.stack.emulator.journal(
            self.sys_id, "work_notes"
        )

    def check(self, user_name: str, *, servicenow_judged: bool = True) -> None:
        """`servicenow_judged`: acting as the person, the write went to ServiceNow, which refused
        it (False: the bot refuses in every mode, approvals to their approver)."""
        assert self.stack.emulator.get(self.table, self.sys_id) == self.row
        assert self._journal() == self.journal
        writes = [(w.user, w.status) for w in table_writes(self.stack, self.mark)]
        assert writes == ([(user_name, 403)] if self.mode.as_person and servicenow_judged else [])


def unchanged(stack: Stack, mode: Mode, number: str) -> Unchanged:
    return Unchanged(stack, mode, "incident", incident(stack, number)["sys_id"])


# ---- anyone with an account: create, list their own --------------------------------------------------


async def test_anyone_with_an_account_opens_incidents_and_lists_their_own(
    stack: Stack, mode: Mode
) -> None:
    await stack.slack.send_command(ALICE, "printer on fire", channel_id=GENERAL)
    [row] = await stack.slack.wait_for(
        lambda: stack.emulator.query("incident", "short_description=printer on fire")
    )
    assert (row["caller_id"], row["sys_created_by"]) == (seed.ALICE, mode.writer("alice.chen"))
    carols = carols_incident(stack)

    await stack.slack.send_command(ALICE, "list", channel_id=GENERAL)
    mine = await stack.slack.wait_for(
        lambda: [e for e in stack.slack.ephemerals_for(ALICE) if "INC0000001" in str(e.blocks)]
    )
    listed = str(mine[0].blocks)
    assert row["number"] in listed and carols not in listed


# ---- see an incident ---------------------------------------------------------------------------------


async def test_who_may_see_an_incident(stack: Stack, mode: Mode) -> None:
    stack.emulator.insert(
        "sys_user_grmember", {"user": seed.ALICE, "group": seed.HARDWARE}, as_user="admin"
    )
    allowed = {
        "caller": (ALICE, "INC0000001"),
        "opener": (ALICE, carols_incident(stack, opened_by=seed.ALICE)),
        "watch list": (ALICE, carols_incident(stack, watch_list=seed.ALICE)),
        "assignee": (ALICE, carols_incident(stack, assigned_to=seed.ALICE)),
        "group member": (ALICE, carols_incident(stack, assignment_group=seed.HARDWARE)),
        "read role": (BOB, carols_incident(stack)),
    }
    mark = len(stack.emulator.requests)
    for user, number in allowed.values():
        await stack.slack.send_command(user, number, channel_id=GENERAL)
        await stack.slack.wait_for(lambda: card_posted(stack, number))  # noqa: B023 (awaited here)
    assert not [t for t in told(stack, ALICE) + told(stack, BOB) if "can't" in t]

    stranger = carols_incident(stack)
    await stack.slack.send_command(ALICE, stranger, channel_id=GENERAL)
    refusal = await answer(stack, ALICE)
    assert f"You can't see {stranger}" in refusal
    assert "watch list" in refusal and "*itil* role" in refusal and "ACL" not in refusal
    assert not card_posted(stack, stranger)
    card = await card_in_general(stack, stranger)  # Bob posts it; Alice follows from the card
    await click(stack, ALICE, card, "incident_follow")
    refusal = await answer(stack, ALICE, 1)
    assert "You can't see" in refusal and "watch list" in refusal and "ACL" not in refusal
    assert (
        await Followers(stack.bot.services.db).of("incident", incident(stack, stranger)["sys_id"])
        == []
    )
    assert table_writes(stack, mark) == []
    if mode.as_person:  # ServiceNow was asked, as each person
        reads = [
            r
            for r in stack.emulator.requests[mark:]
            if r.path.startswith("/api/now/table/incident")
        ]
        assert {r.user for r in reads} == {"alice.chen", "bob.martin"}


# ---- comment, reopen: the caller (or a fulfiller) ------------------------------------------------------


async def test_the_caller_comments_and_reopens_and_a_stranger_may_not(
    stack: Stack, mode: Mode
) -> None:
    assert "Added your comment to INC0000001" in await say(
        stack, ALICE, "comment INC0000001 any news?"
    )
    row = incident(stack, "INC0000001")
    [entry] = [
        e for e in stack.emulator.journal(row["sys_id"], "comments") if "any news?" in e["value"]
    ]
    assert entry["sys_created_by"] == row["sys_updated_by"] == mode.writer("alice.chen")

    assert "Reopened INC0000004" in await say(stack, ALICE, "reopen INC0000004")
    row = incident(stack, "INC0000004")
    assert (row["state"], row["sys_updated_by"]) == ("2", mode.writer("alice.chen"))

    # Alice watches Carol's incidents: she may see them, not comment on or reopen them.
    watched = carols_incident(stack, watch_list=seed.ALICE)
    resolved = carols_incident(
        stack, watch_list=seed.ALICE, state="6", close_code="Solution provided", close_notes="Ok"
    )
    for command, number, verb in [
        (f"comment {watched} me too", watched, "comment on"),
        (f"reopen {resolved}", resolved, "reopen"),
    ]:
        before = unchanged(stack, mode, number)
        refusal = await say(stack, ALICE, command)
        assert f"You can't {verb} {number}: it isn't yours" in refusal
        assert "Carol Diaz" in refusal and "nothing was changed" in refusal
        before.check("alice.chen")


# ---- work an incident: a fulfiller only --------------------------------------------------------------


async def test_a_fulfiller_works_anyones_incident(stack: Stack, mode: Mode) -> None:
    bob = mode.writer("bob.martin")
    number = carols_incident(stack)
    sys_id = incident(stack, number)["sys_id"]

    assert f"Assigned {number} to you" in await say(stack, BOB, f"assign {number} me")
    row = incident(stack, number)
    assert (row["assigned_to"], row["sys_updated_by"]) == (seed.BOB, bob)

    assert f"Added your work note to {number}" in await say(stack, BOB, f"note {number} chewed")
    [note] = [e for e in stack.emulator.journal(sys_id, "work_notes") if "chewed" in e["value"]]
    assert note["sys_created_by"] == bob

    card = await card_in_general(stack, number)
    await choose_state(stack, BOB, card, "2")  # start work
    await stack.slack.wait_for(lambda: incident(stack, number)["state"] == "2")
    assert incident(stack, number)["sys_updated_by"] == bob

    assert f"{number} is on hold" in await say(stack, BOB, f"hold {number} vendor new cable")
    row = incident(stack, number)
    assert (row["state"], row["sys_updated_by"]) == ("3", bob)

    await resolve(stack, BOB, number)
    await stack.slack.wait_for(lambda: incident(stack, number)["state"] == "6")
    assert incident(stack, number)["sys_updated_by"] == bob

    assert f"Closed {number}" in await say(stack, BOB, f"close {number}")
    row = incident(stack, number)
    assert (row["state"], row["sys_updated_by"]) == ("7", bob)

    fresh = carols_incident(stack)
    card = await card_in_general(stack, fresh)
    await choose_state(stack, BOB, card, "8")  # cancel
    await stack.slack.wait_for(lambda: incident(stack, fresh)["state"] == "8")
    assert incident(stack, fresh)["sys_updated_by"] == bob
    assert not [t for t in told(stack, BOB) if "can't" in t]


async def test_a_caller_without_a_role_may_not_work_even_her_own_incident(
    stack: Stack, mode: Mode
) -> None:
    number = alices_new_incident(stack)  # New: every move is open to a fulfiller
    card = await card_in_general(stack, number)

    def command(text: str) -> Callable[[], Awaitable[object]]:
        return lambda: stack.slack.send_command(ALICE, text, channel_id=GENERAL)

    attempts: list[tuple[str, str, Callable[[], Awaitable[object]]]] = [
        (number, "assign", command(f"assign {number} me")),
        (number, "add work notes to", command(f"note {number} hm")),
        (number, "put on hold", command(f"hold {number} vendor parts")),
        (number, "start work on", lambda: choose_state(stack, ALICE, card, "2")),
        (number, "resolve", lambda: resolve(stack, ALICE, number)),
        ("INC0000004", "close", command("close INC0000004")),
        (number, "cancel", lambda: choose_state(stack, ALICE, card, "8")),
    ]
    for n, (target, verb, attempt) in enumerate(attempts):
        before = unchanged(stack, mode, target)
        await attempt()
        refusal = await answer(stack, ALICE, n)
        assert f"You can't {verb} {target}" in refusal, refusal
        assert "*itil* role" in refusal and "Ask your ServiceNow admin" in refusal
        assert "nothing was changed" in refusal and "ACL" not in refusal
        before.check("alice.chen")
    assert len(told(stack, ALICE)) == len(attempts)


# ---- approvals: the approver only ----------------------------------------------------------------------


async def test_only_the_approver_approves_or_rejects(stack: Stack, mode: Mode) -> None:
    table = "sysapproval_approver"
    for user in (BOB, ALICE):
        for action_id in ("approval_approve", "approval_reject"):
            before = Unchanged(stack, mode, table, seed.ITEM_APPROVAL)
            await stack.slack.send_block_action(
                user, action_id=action_id, value=seed.ITEM_APPROVAL, channel_id=GENERAL
            )
            if action_id == "approval_approve":
                refusal = await answer(stack, user)
            else:  # the reject form shows the refusal instead of asking for a reason
                refusal = await modal_text(stack, user)
            assert "approve or reject" in refusal and "nothing was changed" in refusal
            if user == BOB:  # he may see it (itil): he is told whose it is
                assert "Only Carol Diaz can approve or reject RITM0000001" in refusal
            before.check(PEOPLE[user], servicenow_judged=False)

    await stack.slack.send_block_action(
        CAROL, action_id="approval_approve", value=seed.ITEM_APPROVAL, channel_id=GENERAL
    )
    approved = await stack.slack.wait_for(lambda: decided(stack, seed.ITEM_APPROVAL, "approved"))
    assert approved["sys_updated_by"] == mode.writer("carol.diaz")
    [comment] = stack.emulator.journal(seed.ITEM_APPROVAL, "comments")
    assert comment["sys_created_by"] == mode.writer("carol.diaz")

    await stack.slack.send_block_action(
        CAROL, action_id="approval_reject", value=seed.CHANGE_APPROVAL, channel_id=GENERAL
    )
    form = await stack.slack.wait_for(lambda: modal(stack, CAROL, "approval_reject"))
    await stack.slack.send_view_submission(
        CAROL, form.id, {"reason": {"value": {"type": "plain_text_input", "value": "Not now"}}}
    )
    rejected = await stack.slack.wait_for(lambda: decided(stack, seed.CHANGE_APPROVAL, "rejected"))
    assert rejected["sys_updated_by"] == mode.writer("carol.diaz")


# ---- no ServiceNow account: nothing at all -------------------------------------------------------------


async def test_someone_without_a_servicenow_account_sees_and_does_nothing(
    stack: Stack, mode: Mode
) -> None:
    card = await card_in_general(stack, "INC0000001")
    incidents = stack.emulator.query("incident", "")
    approvals = stack.emulator.query("sysapproval_approver", "")
    mark = len(stack.emulator.requests)
    words = [
        "printer on fire",
        "list",
        "approvals",
        "INC0000001",
        "follow INC0000001",
        "comment INC0000001 hi",
        "reopen INC0000004",
        "assign INC0000001 me",
        "note INC0000001 hi",
        "hold INC0000001 vendor parts",
        "resolve INC0000001",
        "close INC0000004",
    ]
    # Linked: who he is comes only from a connected account, so he is asked to connect (and
    # ServiceNow's sign-in is where having no account shows); otherwise his e-mail is named.
    why = "connect it first" if mode.name == "linked" else "dave@example.com"
    for n, text in enumerate(words):
        await stack.slack.send_command(DAVE, text, channel_id=GENERAL)
        assert why in await answer(stack, DAVE, n), text
    await choose_state(stack, DAVE, card, "2")
    await click(stack, DAVE, card, "incident_assign_me")
    await stack.slack.send_block_action(
        DAVE, action_id="approval_approve", value=seed.ITEM_APPROVAL, channel_id=GENERAL
    )
    await stack.slack.wait_for(lambda: len(told(stack, DAVE)) == len(words) + 3)
    assert all(why in text for text in told(stack, DAVE))
    await click(stack, DAVE, card, "incident_comment")  # a form shows why, with nothing to submit
    form = await modal_text(stack, DAVE)
    assert why in form and "incident_comment" not in form

    assert [m.text for m in stack.slack.messages_in(GENERAL)] == [card.text]
    assert stack.emulator.query("incident", "") == incidents
    assert stack.emulator.query("sysapproval_approver", "") == approvals
    assert table_writes(stack, mark) == []
    assert not [r for r in stack.emulator.requests[mark:] if r.path == "/oauth_token.do"]
