"""Thread ↔ comments, link previews and mentions for every record kind besides incidents
(issue #17, points 3-4): requested items, changes and problems, over loopback.

Each kind's live card syncs its thread both ways like an incident's (one comment per reply however
often Slack delivers it; a comment written in ServiceNow comes back once, one written from Slack
never does), its links unfurl for people who may read it, and its number answers a mention.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.servicenow import seed
from sandbox.slack import Message
from sandbox.slack.records import ALICE, BOB, CAROL, GENERAL
from sandbox.stack import Stack
from storage import Threads
from tests.e2e.steps import told
from tests.e2e.test_threads import feed_stack
from tests.support import eventually

# (number, table, sys_id, someone who may comment on it, their ServiceNow user name)
KINDS = [
    ("RITM0000001", "sc_req_item", seed.REQUESTED_ITEM, ALICE, "Alice Chen"),  # hers
    ("CHG0000001", "change_request", seed.CHANGE, BOB, "Bob Martin"),  # he requested it
    ("PRB0000001", "problem", seed.PROBLEM, CAROL, "Carol Diaz"),  # assigned to her
]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with feed_stack(tmp_path) as stack:
        yield stack


async def show(stack: Stack, person: str, number: str) -> Message:
    await stack.slack.send_command(person, number, channel_id=GENERAL)
    card: Message = await stack.slack.wait_for(
        lambda: next(
            (m for m in stack.slack.messages_in(GENERAL) if number in m.text and not m.thread_ts),
            None,
        )
    )
    await eventually(lambda: Threads(stack.bot.db).record_of(card.channel, card.ts))
    return card


def bot_replies(stack: Stack, card: Message) -> list[Message]:
    return [
        m
        for m in stack.slack.thread(card.channel, card.ts)
        if m.ts != card.ts and m.user == stack.slack.bot.id
    ]


def comments(stack: Stack, sys_id: str, containing: str) -> list[dict[str, str]]:
    return [e for e in stack.emulator.journal(sys_id, "comments") if containing in e["value"]]


async def settled(stack: Stack, table: str, sys_id: str) -> None:
    """The bot has reconciled the record's newest version and delivered everything queued."""
    version = int(stack.emulator.get(table, sys_id)["sys_mod_count"])  # type: ignore[index]

    async def caught_up() -> bool:
        seen = await stack.bot.feed.store.snapshot(table, sys_id)
        return (
            seen is not None
            and seen.sys_mod_count >= version
            and await stack.bot.feed.store.pending() == 0
        )

    await eventually(caught_up, timeout=10)


@pytest.mark.parametrize(("number", "table", "sys_id", "person", "name"), KINDS)
async def test_a_reply_becomes_one_comment_and_a_servicenow_comment_comes_back_once(
    stack: Stack, number: str, table: str, sys_id: str, person: str, name: str
) -> None:
    card = await show(stack, person, number)
    said = await stack.slack.say(person, GENERAL, f"Any news on {number}?", thread_ts=card.ts)
    await stack.slack.conversation.resend(said, retry_num=1)  # Slack's retry: still one comment
    [entry] = await stack.slack.wait_for(lambda: comments(stack, sys_id, "Any news on"))
    assert f"{name} (via Slack)" in entry["value"]
    await stack.slack.wait_for(lambda: "Any news on" in str(card.blocks))  # the card's latest

    # Written in ServiceNow: a reply in the card's thread, with its author.
    stack.emulator.update(table, sys_id, {"comments": "Parts ordered"}, as_user="admin")
    [reply] = await stack.slack.wait_for(
        lambda: [m for m in bot_replies(stack, card) if "Parts ordered" in m.text], timeout=10
    )
    assert "admin" in reply.text and number in str(reply.blocks)
    await settled(stack, table, sys_id)
    # The comment from Slack never came back; the ServiceNow one came once.
    assert [m.text for m in bot_replies(stack, card)] == [reply.text]
    assert len(comments(stack, sys_id, "Any news on")) == 1


async def test_someone_who_may_not_comment_on_a_change_is_told_so_and_nothing_is_written(
    stack: Stack,
) -> None:
    card = await show(stack, BOB, "CHG0000001")
    await stack.slack.say(ALICE, GENERAL, "Can it wait a week?", thread_ts=card.ts)
    refusal = await stack.slack.wait_for(lambda: told(stack, ALICE))
    assert "CHG0000001" in refusal[0]
    assert comments(stack, seed.CHANGE, "Can it wait") == []


@pytest.mark.parametrize(("number", "table", "sys_id", "person", "name"), KINDS)
async def test_its_links_unfurl_for_people_who_may_read_it_and_follow_the_record(
    stack: Stack, number: str, table: str, sys_id: str, person: str, name: str
) -> None:
    base = stack.settings.servicenow_instance_url
    urls = [
        f"{base}/nav_to.do?uri={table}.do%3Fsys_id%3D{sys_id}",
        f"{base}/{table}.do?sys_id={sys_id}",
        f"{base}/now/sow/record/{table}/{sys_id}",
    ]
    said = await stack.slack.say(person, GENERAL, "see " + " and ".join(urls))
    await stack.slack.wait_for(lambda: len(said.message.unfurls) == 3)
    preview = json.dumps(said.message.unfurls[urls[0]])
    short = stack.emulator.get(table, sys_id)["short_description"]  # type: ignore[index]
    assert number in preview and json.dumps(short)[1:-1] in preview
    assert "Assigned to" in preview  # number, short description, state, assignee

    # It changes in ServiceNow: the preview follows.
    stack.emulator.update(
        table, sys_id, {"short_description": "Renamed in ServiceNow"}, as_user="admin"
    )
    await stack.slack.wait_for(
        lambda: all("Renamed in ServiceNow" in json.dumps(u) for u in said.message.unfurls.values())
    )


async def test_a_link_to_a_change_she_may_not_read_shows_nothing(stack: Stack) -> None:
    url = f"{stack.settings.servicenow_instance_url}/change_request.do?sys_id={seed.CHANGE}"
    theirs = await stack.slack.say(ALICE, GENERAL, f"what is {url}?")
    # Bob's link to the same change is previewed: Alice's, said before it, never was.
    mine = await stack.slack.say(BOB, GENERAL, f"it is {url}")
    await stack.slack.wait_for(lambda: mine.message.unfurls)
    assert theirs.message.unfurls == {}


@pytest.mark.parametrize(("number", "table", "sys_id", "person", "name"), KINDS)
async def test_a_mention_with_its_number_answers_in_the_thread_with_its_live_card(
    stack: Stack, number: str, table: str, sys_id: str, person: str, name: str
) -> None:
    said = await stack.slack.say(person, GENERAL, f"@incident-bot {number.lower()} status?")
    await stack.slack.conversation.resend(said, "app_mention", retry_num=1)
    card = await stack.slack.wait_for(
        lambda: next(
            (m for m in stack.slack.messages_in(GENERAL) if m.thread_ts == said.message.ts),
            None,
        )
    )
    assert number in card.text and card.user == stack.slack.bot.id
    stack.emulator.update(table, sys_id, {"short_description": "Live, as ever"}, as_user="admin")
    await stack.slack.wait_for(lambda: "Live, as ever" in str(card.blocks))
    answers = [m for m in stack.slack.messages_in(GENERAL) if m.thread_ts == said.message.ts]
    assert answers == [card]
