"""The message shortcut "Open an incident" end to end (issue #17, point 1): a real message in the
stand-in, Slack's `message_action` payload signed over loopback, the form pre-filled from the
message, the incident in the emulator and its live card in the message's thread."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from sandbox.servicenow import seed
from sandbox.slack import Message
from sandbox.slack import payloads as slack_payloads
from sandbox.slack.records import ALICE, BOB, CAROL, DAVE, GENERAL, ApiFault, View
from sandbox.stack import Stack
from storage import PostedMessages, Threads
from tests.e2e.steps import told
from tests.e2e.test_threads import feed_stack
from tests.support import eventually

SHORTCUT = "incident_from_message"
TEXT = "Badge readers dead at the north entrance\nSince 9am nobody gets in; &lt;security&gt; knows."


async def form_for(stack: Stack, user: str, message: Message) -> View:
    reply = await stack.slack.send_message_shortcut(user, message, SHORTCUT)
    assert reply.status == 200 and reply.elapsed < 1.0
    return await stack.slack.wait_for(
        lambda: (v := stack.slack.current_modal(user)) and v.view["callback_id"] != "loading" and v
    )


def element(view: View, block_id: str) -> dict[str, Any]:
    block = next(b for b in view.view["blocks"] if b.get("block_id") == block_id)
    return dict(block["element"])


def values(view: View, caller: str, **text: str) -> dict[str, dict[str, dict[str, Any]]]:
    """What Submit sends: the pre-filled text (or `text`), the caller chosen, impact/urgency 3."""

    def typed(block_id: str) -> dict[str, dict[str, Any]]:
        value = text.get(block_id, element(view, block_id).get("initial_value", ""))
        return {"value": {"type": "plain_text_input", "value": value}}

    def chosen(value: str) -> dict[str, dict[str, Any]]:
        return {"value": {"type": "static_select", "selected_option": {"value": value}}}

    return {
        "short_description": typed("short_description"),
        "description": typed("description"),
        "caller": chosen(caller),
        "impact": chosen("3"),
        "urgency": chosen("3"),
    }


async def thread_cards(stack: Stack, message: Message, count: int = 1) -> list[Message]:
    return await stack.slack.wait_for(
        lambda: (
            found
            if len(
                found := [
                    m
                    for m in stack.slack.messages_in(message.channel)
                    if m.thread_ts == message.ts and m.user != message.user
                ]
            )
            >= count
            else None
        )
    )


async def test_the_form_is_filled_from_the_message_and_the_card_goes_in_its_thread(
    stack: Stack,
) -> None:
    message = stack.slack.post_as_user(CAROL, GENERAL, TEXT)
    view = await form_for(stack, BOB, message)

    short, description = element(view, "short_description"), element(view, "description")
    assert short["initial_value"] == "Badge readers dead at the north entrance"
    assert description["initial_value"].startswith("Since 9am nobody gets in; <security> knows.")
    permalink = slack_payloads.permalink(message)
    assert permalink in description["initial_value"]
    [call] = stack.slack.calls_to("chat.getPermalink")
    assert (call.args["channel"], call.args["message_ts"]) == (GENERAL, message.ts)
    # Me first, or the message's author, who has a ServiceNow account.
    callers = element(view, "caller")
    assert [o["value"] for o in callers["options"]] == [BOB, CAROL]
    assert callers["initial_option"]["value"] == BOB

    reply = await stack.slack.send_view_submission(BOB, view.id, values(view, CAROL))
    assert reply.status == 200 and reply.elapsed < 1.0

    [card] = await thread_cards(stack, message)
    [row] = stack.emulator.query(
        "incident", "short_description=Badge readers dead at the north entrance"
    )
    assert row["caller_id"] == seed.CAROL
    assert permalink in row["description"]  # the incident links back to the message
    assert row["number"] in card.text and "Carol Diaz" in str(card.blocks)
    posted = await eventually(
        lambda: PostedMessages(stack.bot.db).for_record("incident", row["sys_id"])
    )
    assert [(p.channel, p.ts) for p in posted] == [(GENERAL, card.ts)]  # a live card


async def test_a_reply_in_a_thread_puts_the_card_in_that_same_thread(stack: Stack) -> None:
    parent = stack.slack.post_as_user(CAROL, GENERAL, "Anyone else seeing this?")
    reply = stack.slack.post_message(
        GENERAL,
        "Scanner on floor two shows error 42",
        user=CAROL,
        thread_ts=parent.ts,
        source="user",
    )
    view = await form_for(stack, BOB, reply)
    assert "thread_ts=" in element(view, "description")["initial_value"]
    await stack.slack.send_view_submission(BOB, view.id, values(view, BOB))
    cards = await stack.slack.wait_for(
        lambda: [m for m in stack.slack.messages_in(GENERAL) if m.user != CAROL]
    )
    assert [c.thread_ts for c in cards] == [parent.ts]


async def test_an_author_without_a_servicenow_account_is_not_offered_as_caller(
    stack: Stack,
) -> None:
    message = stack.slack.post_as_user(DAVE, GENERAL, "Coffee machine leaks")
    view = await form_for(stack, ALICE, message)
    assert [o["value"] for o in element(view, "caller")["options"]] == [ALICE]

    # A caller forged into the submission is refused in the form, and nothing is opened.
    reply = await stack.slack.send_view_submission(ALICE, view.id, values(view, CAROL))
    assert reply.json is not None and reply.json["response_action"] == "errors"
    assert "caller" in reply.json["errors"]
    assert stack.emulator.query("incident", "short_description=Coffee machine leaks") == []


async def test_someone_without_a_servicenow_account_is_told_in_the_modal_and_can_open_nothing(
    stack: Stack,
) -> None:
    message = stack.slack.post_as_user(CAROL, GENERAL, "Lift stuck")
    reply = await stack.slack.send_message_shortcut(DAVE, message, SHORTCUT)
    assert reply.status == 200
    view = await stack.slack.wait_for(lambda: stack.slack.current_modal(DAVE))
    assert view.view["callback_id"] == "error" and "submit" not in view.view
    assert "dave@example.com" in json.dumps(view.view["blocks"])
    assert stack.slack.calls_to("chat.getPermalink") == []


async def test_a_repeated_submission_opens_one_incident_and_posts_one_card(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.slack.interactions")
    message = stack.slack.post_as_user(CAROL, GENERAL, "Projector in room 4 flickers")
    view = await form_for(stack, BOB, message)
    submitted = values(view, BOB)
    view.state = submitted
    payload = {
        "type": "view_submission",
        "team": slack_payloads.team(stack.slack.team_id),
        "user": slack_payloads.user_ref(stack.slack.user(BOB), stack.slack.team_id),
        "api_app_id": slack_payloads.API_APP_ID,
        "token": slack_payloads.VERIFICATION_TOKEN,
        "trigger_id": stack.slack.issue_trigger(BOB, view_id=view.id),
        "view": slack_payloads.view_object(view, stack.slack.team_id, stack.slack.bot.bot_id or ""),
        "response_urls": [],
    }
    form = {"payload": json.dumps(payload)}
    first = await stack.slack.send_signed(form, kind="view_submission")
    second = await stack.slack.send_signed(form, kind="view_submission")
    assert (first.status, second.status) == (200, 200)

    [card] = await thread_cards(stack, message)
    await stack.slack.wait_for(lambda: f"ignoring a repeat of view:{view.id}" in caplog.text)
    [row] = stack.emulator.query("incident", "short_description=Projector in room 4 flickers")
    posted = await eventually(
        lambda: PostedMessages(stack.bot.db).for_record("incident", row["sys_id"])
    )
    assert [p.ts for p in posted] == [card.ts]


async def test_a_similar_open_incident_is_asked_about_before_the_form_opens_one(
    stack: Stack,
) -> None:
    stack.emulator.insert(
        "incident",
        {"caller_id": seed.CAROL, "short_description": "North entrance badge readers dead"},
        as_user="carol.diaz",
    )
    message = stack.slack.post_as_user(CAROL, GENERAL, TEXT)
    view = await form_for(stack, BOB, message)
    await stack.slack.send_view_submission(BOB, view.id, values(view, CAROL))

    asked = await stack.slack.wait_for(
        lambda: next((e for e in stack.slack.ephemerals_for(BOB) if "similar" in e.text), None)
    )
    assert asked.channel == GENERAL and "North entrance badge readers dead" in str(asked.blocks)
    assert (
        stack.emulator.query("incident", "caller_id=" + seed.CAROL + "^descriptionLIKESince 9am")
        == []
    )
    anyway = next(
        {**e, "block_id": b["block_id"]}
        for b in asked.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "incident_draft_open"
    )
    await stack.slack.send_block_action(
        BOB,
        action_id=anyway["action_id"],
        block_id=anyway["block_id"],
        value=anyway["value"],
        channel_id=GENERAL,
    )
    [card] = await thread_cards(stack, message)
    [row] = stack.emulator.query(
        "incident", "short_description=Badge readers dead at the north entrance"
    )
    assert row["caller_id"] == seed.CAROL and row["number"] in card.text
    assert slack_payloads.permalink(message) in row["description"]


async def test_the_link_back_to_slack_stays_even_when_deleted_from_the_form(
    stack: Stack,
) -> None:
    message = stack.slack.post_as_user(CAROL, GENERAL, "Kitchen tap leaking\nthird floor")
    view = await form_for(stack, BOB, message)
    await stack.slack.send_view_submission(BOB, view.id, values(view, BOB, description=""))
    await thread_cards(stack, message)
    [row] = stack.emulator.query("incident", "short_description=Kitchen tap leaking")
    assert row["description"] == f"From Slack: {slack_payloads.permalink(message)}"


async def test_a_bots_message_offers_only_me_as_caller(stack: Stack) -> None:
    await stack.slack.send_command(BOB, "INC0000001", channel_id=GENERAL)
    card = await stack.slack.wait_for(lambda: next(iter(stack.slack.messages_in(GENERAL)), None))
    view = await form_for(stack, BOB, card)
    assert [o["value"] for o in element(view, "caller")["options"]] == [BOB]


async def test_a_malformed_message_action_is_answered_kindly_and_opens_nothing(
    stack: Stack,
) -> None:
    said = stack.slack.post_as_user(CAROL, GENERAL, "Lift stuck")
    for message in ("not a message", {"ts": "<script>"}, {"ts": said.ts, "text": 42}):
        payload = {
            "type": "message_action",
            "callback_id": SHORTCUT,
            "user": {"id": BOB},
            "channel": {"id": GENERAL},
            "trigger_id": stack.slack.issue_trigger(BOB),
            "message": message,
        }
        reply = await stack.slack.send_signed(
            {"payload": json.dumps(payload)}, kind="message_action"
        )
        assert reply.status == 200
    views = await stack.slack.wait_for(
        lambda: (
            (found := [v for v in stack.slack.views.values() if v.user == BOB])
            and len(found) == 3
            and found
        )
    )
    assert [v.view["callback_id"] for v in views[:2]] == ["error", "error"]
    assert "which message" in json.dumps(views[0].view)
    assert views[2].view["callback_id"] == "incident_from_message_form"  # text not a string: empty
    assert stack.emulator.query("incident", "short_description=Lift stuck") == []


async def test_a_card_held_back_by_slack_still_goes_in_the_thread_showing_the_newest_state(
    stack: Stack,
) -> None:
    message = stack.slack.post_as_user(CAROL, GENERAL, "Door sensor beeping")
    view = await form_for(stack, BOB, message)
    # Slack answers chat.postMessage 429 for a while: the card waits in the outbox.
    stack.slack.faults.append(ApiFault("chat.postMessage", retry_after=2, times=1))
    await stack.slack.send_view_submission(BOB, view.id, values(view, BOB))
    [row] = await stack.slack.wait_for(
        lambda: stack.emulator.query("incident", "short_description=Door sensor beeping")
    )
    await stack.slack.wait_for(lambda: stack.slack.calls_to("chat.postMessage"))
    # Meanwhile it changes: the pending post is rewritten with the newer card, and keeps its thread.
    changed = stack.emulator.update(
        "incident", row["sys_id"], {"state": "2", "assigned_to": seed.BOB}, as_user="bob.martin"
    )
    await stack.bot.feed.reconcile("incident", changed)
    [card] = await thread_cards(stack, message)
    assert "In Progress" in str(card.blocks) and card.edited == 0


def journal(stack: Stack, sys_id: str, containing: str) -> list[dict[str, str]]:
    return [e for e in stack.emulator.journal(sys_id, "comments") if containing in e["value"]]


async def open_from(stack: Stack, message: Message, short: str) -> dict[str, str]:
    """Bob opens an incident from `message` (Carol its caller); its row once its card is in."""
    view = await form_for(stack, BOB, message)
    await stack.slack.send_view_submission(
        BOB, view.id, values(view, CAROL, short_description=short)
    )
    [row] = await stack.slack.wait_for(
        lambda: stack.emulator.query("incident", f"short_description={short}")
    )
    await eventually(
        lambda: PostedMessages(stack.bot.db).for_record("incident", str(row["sys_id"]))
    )
    return {k: str(v) for k, v in row.items()}


async def test_the_messages_thread_syncs_with_the_incident_whose_card_went_there(
    tmp_path: Path,
) -> None:
    async with feed_stack(tmp_path) as stack:
        message = stack.slack.post_as_user(CAROL, GENERAL, TEXT)
        row = await open_from(stack, message, "Badge readers dead at the north entrance")
        [card] = await thread_cards(stack, message)
        threads = Threads(stack.bot.db)
        assert await threads.record_of(GENERAL, message.ts) == ("incident", row["sys_id"])

        # Carol replies in her message's thread: one comment, however often Slack sends it.
        said = await stack.slack.say(CAROL, GENERAL, "Still locked out", thread_ts=message.ts)
        await stack.slack.conversation.resend(said, retry_num=1)
        [entry] = await stack.slack.wait_for(lambda: journal(stack, row["sys_id"], "locked out"))
        assert "Carol Diaz (via Slack)" in entry["value"]

        # Bob answers in ServiceNow: his comment comes into the thread, hers never comes back.
        stack.emulator.update(
            "incident", row["sys_id"], {"comments": "Facilities are on it"}, as_user="bob.martin"
        )
        [answer] = await stack.slack.wait_for(
            lambda: [
                m
                for m in stack.slack.thread(GENERAL, message.ts)
                if m.user == stack.slack.bot.id and "Facilities are on it" in m.text
            ],
            timeout=10,
        )
        assert "bob.martin" in answer.text
        await stack.slack.wait_for(lambda: "Facilities are on it" in str(card.blocks))
        await eventually(lambda: _drained(stack))
        from_bot = [m for m in stack.slack.thread(GENERAL, message.ts) if m.user != CAROL]
        assert [m.ts for m in from_bot] == [card.ts, answer.ts]
        assert len(journal(stack, row["sys_id"], "locked out")) == 1


async def test_a_thread_with_the_cards_of_two_incidents_takes_only_replies_that_name_one(
    tmp_path: Path,
) -> None:
    async with feed_stack(tmp_path) as stack:
        message = stack.slack.post_as_user(CAROL, GENERAL, TEXT)
        first = await open_from(stack, message, "Badge readers dead at the north entrance")
        second = await open_from(stack, message, "Turnstile display blank")
        await thread_cards(stack, message, count=2)
        threads = Threads(stack.bot.db)
        assert await threads.records_of(GENERAL, message.ts) == [
            ("incident", first["sys_id"]),
            ("incident", second["sys_id"]),
        ]

        # A reply that names neither stays in Slack; Carol hears why (once per thread).
        await stack.slack.say(CAROL, GENERAL, "Still locked out", thread_ts=message.ts)
        [hint] = await stack.slack.wait_for(lambda: told(stack, CAROL))
        assert first["number"] in hint and second["number"] in hint
        await stack.slack.say(CAROL, GENERAL, "And the side door too", thread_ts=message.ts)
        # One naming the second incident is its comment, and only its.
        await stack.slack.say(
            CAROL, GENERAL, f"{second['number'].lower()}: it shows E42", thread_ts=message.ts
        )
        await stack.slack.wait_for(lambda: journal(stack, second["sys_id"], "shows E42"))
        await eventually(lambda: _drained(stack))
        assert told(stack, CAROL) == [hint]
        for row in (first, second):
            assert journal(stack, row["sys_id"], "locked out") == []
            assert journal(stack, row["sys_id"], "side door") == []
        assert journal(stack, first["sys_id"], "shows E42") == []

        # ServiceNow comments on either come into the thread, once each.
        for row, text in ((first, "Reader replaced"), (second, "Display rebooted")):
            stack.emulator.update("incident", row["sys_id"], {"comments": text}, as_user="admin")
        await stack.slack.wait_for(
            lambda: all(
                any(t in m.text for m in stack.slack.thread(GENERAL, message.ts))
                for t in ("Reader replaced", "Display rebooted")
            ),
            timeout=10,
        )
        await eventually(lambda: _drained(stack))
        for text in ("Reader replaced", "Display rebooted"):
            assert len([m for m in stack.slack.thread(GENERAL, message.ts) if text in m.text]) == 1


async def test_a_mentions_answer_in_a_thread_does_not_make_the_thread_the_records(
    tmp_path: Path,
) -> None:
    async with feed_stack(tmp_path) as stack:
        said = await stack.slack.say(ALICE, GENERAL, "@incident-bot INC0000001 news?")
        await stack.slack.wait_for(
            lambda: [m for m in stack.slack.messages_in(GENERAL) if m.thread_ts == said.message.ts]
        )
        await eventually(
            lambda: PostedMessages(stack.bot.db).for_record("incident", _sys_id(stack))
        )
        await stack.slack.say(ALICE, GENERAL, "just chatting", thread_ts=said.message.ts)
        await eventually(lambda: _drained(stack))
        assert journal(stack, _sys_id(stack), "just chatting") == []
        assert await Threads(stack.bot.db).records_of(GENERAL, said.message.ts) == []


def _sys_id(stack: Stack) -> str:
    return str(stack.emulator.query("incident", "number=INC0000001")[0]["sys_id"])


async def _drained(stack: Stack) -> bool:
    return await stack.bot.feed.store.pending() == 0
