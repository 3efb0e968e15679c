"""The duplicate check before an incident is opened (issue #17, point 2), end to end: signed
`/incident <text>` commands and clicks over loopback, similar open incidents in the emulator,
the question asked only of the person, and each of its three answers acting once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.servicenow import Fault, seed
from sandbox.slack.records import ALICE, BOB, GENERAL, Ephemeral
from sandbox.stack import Stack
from storage import Followers
from tests.e2e.steps import table_writes


def carols(stack: Stack, text: str, **values: Any) -> dict[str, str]:
    """An open incident Carol called in (Bob, itil, may see it; Alice may not)."""
    at = values.pop("at", None)
    return stack.emulator.insert(
        "incident",
        {"caller_id": seed.CAROL, "opened_by": seed.CAROL, "short_description": text, **values},
        as_user="carol.diaz",
        at=at,
    )


async def question(stack: Stack, user: str) -> Ephemeral:
    return await stack.slack.wait_for(
        lambda: next(
            (
                e
                for e in stack.slack.ephemerals_for(user)
                if any("incident_draft_open" in str(b) for b in e.blocks)
            ),
            None,
        )
    )


def buttons(asked: Ephemeral) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for block in asked.blocks:
        if block["type"] == "actions":
            for element in block["elements"]:
                found.setdefault(element["action_id"], []).append(
                    {**element, "block_id": block["block_id"]}
                )
    return found


async def press(stack: Stack, user: str, button: dict[str, Any], retry: int | None = None) -> None:
    await stack.slack.send_block_action(
        user,
        action_id=button["action_id"],
        block_id=button["block_id"],
        value=button["value"],
        channel_id=GENERAL,
        retry_num=retry,
    )


def created(stack: Stack, text: str) -> list[dict[str, str]]:
    rows = stack.emulator.query("incident", "active=true")
    return [row for row in rows if row["short_description"] == text]


async def test_a_similar_open_incident_is_offered_and_nothing_is_opened_yet(stack: Stack) -> None:
    lobby = carols(stack, "Printer on fire in the lobby")
    reply = await stack.slack.send_command(BOB, "printer on fire", channel_id=GENERAL)
    assert reply.status == 200 and reply.elapsed < 1.0

    asked = await question(stack, BOB)
    assert lobby["number"] in asked.text or lobby["number"] in str(asked.blocks)
    shown = str(asked.blocks)
    assert "Printer on fire in the lobby" in shown and "New" in shown and "Carol Diaz" in shown
    found = buttons(asked)
    assert [b["value"].split(":")[0] for b in found["incident_draft_follow"]] == [lobby["sys_id"]]
    assert len(found["incident_draft_comment"]) == 1 and len(found["incident_draft_open"]) == 1
    assert created(stack, "printer on fire") == []
    assert stack.slack.messages_in(GENERAL) == []  # asked only of Bob


async def test_open_a_new_one_anyway_opens_it_once_with_its_card(stack: Stack) -> None:
    carols(stack, "Printer on fire in the lobby")
    await stack.slack.send_command(BOB, "printer on fire", channel_id=GENERAL)
    [anyway] = buttons(await question(stack, BOB))["incident_draft_open"]

    await press(stack, BOB, anyway)
    card = await stack.slack.wait_for(lambda: stack.slack.messages_in(GENERAL))
    [row] = created(stack, "printer on fire")
    assert row["caller_id"] == seed.BOB and row["number"] in card[0].text
    await press(stack, BOB, anyway, retry=1)  # Slack's retry of the same click
    [follow] = buttons(await question(stack, BOB))["incident_draft_follow"]
    await press(stack, BOB, follow)  # and a second choice after the first
    await stack.slack.wait_for(
        lambda: any("Opening a new incident" in e.text for e in stack.slack.ephemerals_for(BOB))
    )
    assert len(created(stack, "printer on fire")) == 1
    assert len(stack.slack.messages_in(GENERAL)) == 1
    assert await Followers(stack.bot.db).of("incident", row["sys_id"]) == []


async def test_follow_this_one_instead_follows_it_and_opens_nothing(stack: Stack) -> None:
    lobby = carols(stack, "Printer on fire in the lobby")
    await stack.slack.send_command(BOB, "printer on fire", channel_id=GENERAL)
    [follow] = buttons(await question(stack, BOB))["incident_draft_follow"]
    await press(stack, BOB, follow)
    await stack.slack.wait_for(
        lambda: any(lobby["number"] in e.text for e in stack.slack.ephemerals_for(BOB)[1:])
    )
    following = await Followers(stack.bot.db).of("incident", lobby["sys_id"])
    assert [slack_user for slack_user, _ in following] == [BOB]
    assert created(stack, "printer on fire") == []


async def test_add_my_details_comments_once_on_the_chosen_incident(stack: Stack) -> None:
    lobby = carols(stack, "Printer on fire in the lobby")
    text = "printer on fire\nflames on the second tray, smell of toner"
    await stack.slack.send_command(BOB, text, channel_id=GENERAL)
    [comment] = buttons(await question(stack, BOB))["incident_draft_comment"]
    before = len(stack.emulator.requests)
    await press(stack, BOB, comment)
    await press(stack, BOB, comment, retry=1)
    await stack.slack.wait_for(
        lambda: any("as a comment" in e.text for e in stack.slack.ephemerals_for(BOB))
    )
    journal = stack.emulator.query("sys_journal_field", f"element_id={lobby['sys_id']}")
    assert [j["value"] for j in journal if "second tray" in j["value"]] != []
    assert len(table_writes(stack, before)) == 1  # one PATCH, whatever the retries
    assert created(stack, "printer on fire") == []


async def test_only_what_the_person_may_see_is_offered(stack: Stack) -> None:
    # Alice (no itil role) may not see Carol's incident: nothing to offer her, so it is opened.
    carols(stack, "Printer on fire in the lobby")
    await stack.slack.send_command(ALICE, "printer on fire", channel_id=GENERAL)
    await stack.slack.wait_for(lambda: stack.slack.messages_in(GENERAL))
    [row] = created(stack, "printer on fire")
    assert row["caller_id"] == seed.ALICE


async def test_resolved_old_and_unrelated_incidents_are_not_duplicates(stack: Stack) -> None:
    carols(stack, "Printer on fire in the lobby", state="6", close_code="Solved", close_notes="x")
    carols(stack, "Printer on fire again", at=datetime.now(UTC) - timedelta(days=5))
    carols(stack, "Printer out of toner")  # shares a word, not all of them
    await stack.slack.send_command(BOB, "printer on fire", channel_id=GENERAL)
    await stack.slack.wait_for(lambda: stack.slack.messages_in(GENERAL))
    assert len(created(stack, "printer on fire")) == 1


async def test_query_syntax_in_the_text_never_widens_the_search(stack: Stack) -> None:
    # Were the text put into the encoded query raw, ^NQ would start a group matching every
    # open incident (the seed has several): it is a word like any other, and nothing matches.
    text = "zebra^NQactive=true"
    await stack.slack.send_command(BOB, text, channel_id=GENERAL)
    await stack.slack.wait_for(lambda: stack.slack.messages_in(GENERAL))
    assert len(created(stack, text)) == 1
    [search] = [
        r
        for r in stack.emulator.requests
        if r.method == "GET" and r.path == "/api/now/table/incident"
    ]
    assert "^NQ" not in search.query["sysparm_query"].replace("^^NQ", "")


async def test_a_slow_servicenow_never_delays_the_ack(stack: Stack) -> None:
    stack.emulator.faults.add(Fault(status=0, delay=2.0, method="GET", path_contains="/incident"))
    reply = await stack.slack.send_command(BOB, "printer on fire", channel_id=GENERAL)
    assert reply.status == 200 and reply.elapsed < 1.0
    assert reply.json is not None and "printer on fire" in reply.json["text"]
    await stack.slack.wait_for(lambda: stack.slack.messages_in(GENERAL), timeout=15)


async def test_the_incident_form_asks_too_before_opening(stack: Stack) -> None:
    carols(stack, "Printer on fire in the lobby")
    await stack.slack.send_command(BOB, "", channel_id=GENERAL)
    form = await stack.slack.wait_for(
        lambda: (m := stack.slack.current_modal(BOB)) and "category" in str(m.view) and m
    )
    typed = {"value": {"type": "plain_text_input", "value": "printer on fire"}}
    await stack.slack.send_view_submission(BOB, form.id, {"short_description": typed})
    asked = await question(stack, BOB)
    assert asked.channel == GENERAL and "Printer on fire in the lobby" in str(asked.blocks)
    assert created(stack, "printer on fire") == []


async def test_a_retried_command_asks_once(stack: Stack) -> None:
    carols(stack, "Printer on fire in the lobby")
    await stack.slack.send_command(BOB, "printer on fire", channel_id=GENERAL)
    await question(stack, BOB)
    again = await stack.slack.send_command(BOB, "printer on fire", channel_id=GENERAL, retry_num=1)
    assert again.status == 200
    searches = [
        r
        for r in stack.emulator.requests
        if r.method == "GET" and r.path == "/api/now/table/incident"
    ]
    asked = [e for e in stack.slack.ephemerals_for(BOB) if "similar open" in e.text]
    assert (len(searches), len(asked)) == (1, 1)


async def test_a_check_servicenow_refuses_never_stands_in_the_way(stack: Stack) -> None:
    carols(stack, "Printer on fire in the lobby")
    stack.emulator.faults.add(Fault(status=403, method="GET", path_contains="/table/incident"))
    await stack.slack.send_command(BOB, "printer on fire", channel_id=GENERAL)
    await stack.slack.wait_for(lambda: stack.slack.messages_in(GENERAL))
    assert len(created(stack, "printer on fire")) == 1
