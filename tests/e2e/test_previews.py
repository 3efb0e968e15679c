"""Link previews and `@incident-bot <number>`, over loopback (issue #17, point 4).

Links to records on the instance unfurl into a compact card only for a person who may read the
record, and the preview follows the record; a mention answers in the thread with the live card.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot import manifest
from sandbox.slack.records import ALICE, BOB, GENERAL
from sandbox.stack import WEBHOOK_SECRET, Stack, run_stack
from tests.e2e.steps import bobs_incident, incident, told

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "slack"


@asynccontextmanager
async def feed_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with run_stack(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        servicenow_webhook_secret=WEBHOOK_SECRET,
        servicenow_poll_seconds=0,
    ) as stack:
        yield stack
        assert stack.slack.problems == []
        assert {call.method for call in stack.slack.calls} <= set(manifest.METHODS)


def links(stack: Stack, sys_id: str) -> list[str]:
    """The three ways people link an incident: nav_to.do, the classic form, the workspace."""
    base = stack.settings.servicenow_instance_url
    return [
        f"{base}/nav_to.do?uri=incident.do%3Fsys_id%3D{sys_id}",
        f"{base}/incident.do?sys_id={sys_id}",
        f"{base}/now/sow/record/incident/{sys_id}",
    ]


async def test_links_to_a_record_the_person_may_read_unfurl_and_follow_the_record(
    tmp_path: Path,
) -> None:
    async with feed_stack(tmp_path) as stack:
        sys_id = incident(stack, "INC0000001")["sys_id"]
        mine = links(stack, sys_id)
        bobs = incident(stack, bobs_incident(stack))["sys_id"]
        theirs = f"{stack.settings.servicenow_instance_url}/incident.do?sys_id={bobs}"
        elsewhere = f"https://example.org/incident.do?sys_id={sys_id}"
        said = await stack.slack.say(
            ALICE, GENERAL, "see " + " and ".join([*mine, theirs, elsewhere])
        )
        await stack.slack.conversation.resend(said, "link_shared", retry_num=1)
        message = said.message
        await stack.slack.wait_for(lambda: len(message.unfurls) == 3)
        assert set(message.unfurls) == set(mine)  # not Bob's incident, not another host
        preview = json.dumps(message.unfurls[mine[0]])
        for fact in (
            "INC0000001",
            "Email not syncing on my phone",
            "New",
            "Priority",
            "Unassigned",
        ):
            assert fact in preview

        # The record changes in ServiceNow: every preview of it shows the new version.
        stack.emulator.update(
            "incident",
            sys_id,
            {"state": "2", "assigned_to": incident(stack, "INC0000002")["assigned_to"]},
            as_user="bob.martin",
        )
        await stack.slack.wait_for(
            lambda: all("In Progress" in json.dumps(u) for u in message.unfurls.values())
        )
        assert "Bob Martin" in json.dumps(message.unfurls[mine[2]])
        # One chat.unfurl per link and version: no more.
        calls = stack.slack.calls_to("chat.unfurl")
        assert len(calls) == 6


async def test_a_link_in_the_message_composer_unfurls_by_its_unfurl_id(tmp_path: Path) -> None:
    async with feed_stack(tmp_path) as stack:
        sys_id = incident(stack, "INC0000001")["sys_id"]
        url = links(stack, sys_id)[1]
        # Slack's documented composer payload, with a link to the instance.
        event: dict[str, Any] = json.loads(
            (FIXTURES / "event_link_shared_composer.docs.inner_event.json").read_text()
        )
        event |= {"user": ALICE, "links": [{"domain": "127.0.0.1", "url": url}]}
        await stack.slack.send_event(event)
        unfurls = await stack.slack.wait_for(
            lambda: stack.slack.composer_unfurls.get(event["unfurl_id"])
        )
        assert "INC0000001" in json.dumps(unfurls[url])


async def test_mentioning_the_bot_with_a_number_answers_in_the_thread_with_the_live_card(
    tmp_path: Path,
) -> None:
    async with feed_stack(tmp_path) as stack:
        said = await stack.slack.say(ALICE, GENERAL, "@incident-bot INC0000001 any news?")
        await stack.slack.conversation.resend(said, "app_mention", retry_num=1)
        await stack.slack.conversation.resend(said, "app_mention", retry_num=2)
        card = await stack.slack.wait_for(
            lambda: next(
                (m for m in stack.slack.messages_in(GENERAL) if m.thread_ts == said.message.ts),
                None,
            )
        )
        assert "INC0000001" in card.text and card.user == stack.slack.bot.id
        # It is a live card: a change in ServiceNow rewrites it.
        sys_id = incident(stack, "INC0000001")["sys_id"]
        stack.emulator.update("incident", sys_id, {"state": "2"}, as_user="bob.martin")
        await stack.slack.wait_for(lambda: "In Progress" in card.text)
        # Slack's retries of the mention answered once.
        answers = [m for m in stack.slack.messages_in(GENERAL) if m.thread_ts == said.message.ts]
        assert answers == [card]

        # A number she may not read: she alone hears why; no card.
        number = bobs_incident(stack)
        before = len(stack.slack.messages_in(GENERAL))
        await stack.slack.say(ALICE, GENERAL, f"@incident-bot {number}")
        [refusal] = await stack.slack.wait_for(lambda: told(stack, ALICE))
        assert number in refusal
        assert len(stack.slack.messages_in(GENERAL)) == before + 1  # her message only

        # No number: a hint, to her alone.
        await stack.slack.say(BOB, GENERAL, "@incident-bot hello")
        hint = await stack.slack.wait_for(lambda: told(stack, BOB))
        assert "INC0010001" in hint[0] and "RITM0010001" in hint[0] and "PRB" in hint[0]
