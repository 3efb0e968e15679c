"""Nothing in the manifest goes unused: a tour of the bot's Slack features, against the stand-in
holding it to the generated manifest, calls every Web API method bot/manifest.py declares (and no
other) and relies on every scope it asks for. The other way round (everything the bot does is
declared) every end-to-end test checks: the stand-in refuses what the manifest does not declare."""

from __future__ import annotations

from typing import Any

import pytest

from bot import manifest
from sandbox.servicenow import seed
from sandbox.servicenow.faults import Fault
from sandbox.stack import Stack

# The seeded change approval is decided with the buttons here: no table needs an e-signature
# (test_permissions.py covers the default, where a change's approval is signed in ServiceNow).
pytestmark = pytest.mark.stack_settings(e_signature_tables="")


ALICE, BOB, CAROL = "U0ALICE000", "U0BOB00000", "U0CAROL000"
GENERAL = "C0GENERAL0"


def typed(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def button(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    for block in blocks:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element["action_id"] == action_id:
                return {**element, "block_id": block["block_id"]}
    raise AssertionError(f"no {action_id} button in {blocks}")


async def test_a_tour_of_the_bot_uses_every_declared_method_and_scope_and_nothing_else(
    stack: Stack,
) -> None:
    slack = stack.slack
    assert slack.bot_channels == set()  # the bot was never invited anywhere

    # A bare /incident while ServiceNow is slow: the modal opens "Loading…" and is filled in.
    stack.emulator.faults.add(Fault.slow(1.5, path_contains="sys_choice"))
    await slack.send_command(ALICE, "", channel_id=GENERAL)
    modal = await slack.wait_for(
        lambda: (m := slack.current_modal(ALICE)) and "category" in str(m.view) and m, timeout=10
    )
    # The assignment group is an external select: Slack asks the bot for its options.
    options = await slack.send_options(
        ALICE, action_id="group", block_id="assignment_group", value="net", view_id=modal.id
    )
    assert isinstance(options.json, dict) and options.json["options"]

    # Submitted: the card goes to #general, where the bot was never invited.
    values = {"short_description": {"value": typed("Wifi down on floor 2")}}
    await slack.send_view_submission(ALICE, modal.id, values)
    [card] = await slack.wait_for(lambda: slack.messages_in(GENERAL))

    # Bob takes it: the card is rewritten.
    take = button(card.blocks, "incident_assign_me")
    await slack.send_block_action(
        BOB,
        action_id=take["action_id"],
        block_id=take["block_id"],
        value=take["value"],
        message=card,
    )
    await slack.wait_for(lambda: card.edited)

    # A comment ServiceNow refuses is explained to its author alone, in the channel.
    comment = button(card.blocks, "incident_comment")
    await slack.send_block_action(
        ALICE,
        action_id=comment["action_id"],
        block_id=comment["block_id"],
        value=comment["value"],
        message=card,
    )
    form = await slack.wait_for(lambda: slack.current_modal(ALICE))
    stack.emulator.faults.add(Fault(status=403, method="PATCH", path_contains="/incident/"))
    await slack.send_view_submission(ALICE, form.id, {"text": {"value": typed("Any news?")}})
    await slack.wait_for(lambda: [e for e in slack.ephemerals_for(ALICE) if e.source == "api"])

    # An approval reaches its approver, found by e-mail, by DM.
    assert await stack.bot.approvals.send_request_dm(seed.CHANGE_APPROVAL)

    # Alice opens the Home tab.
    await slack.send_event(slack.app_home_opened(ALICE))
    await slack.wait_for(lambda: slack.home_view(ALICE))

    # Bob opens an incident from Carol's message: its permalink goes into the form.
    carols = slack.post_as_user(CAROL, GENERAL, "Badge readers dead at the north door")
    await slack.send_message_shortcut(BOB, carols, "incident_from_message")
    await slack.wait_for(lambda: (m := slack.current_modal(BOB)) and "archives" in str(m.view))

    # Conversations: a reply in the card's thread, a message in a private channel, a mention,
    # and a link to the incident, which unfurls.
    number = next(w for w in card.text.split() if w.startswith("INC")).rstrip(":")
    [row] = stack.emulator.query("incident", f"number={number}")
    slack.invite_bot(GENERAL)
    await slack.say(ALICE, GENERAL, "Still down", thread_ts=card.ts)
    slack.add_channel("G0PRIVATE0", "private", private=True, members=[ALICE])
    slack.invite_bot("G0PRIVATE0")
    await slack.say(ALICE, "G0PRIVATE0", "just chatting")
    await slack.say(ALICE, GENERAL, f"@incident-bot {number}")
    link = f"{stack.settings.servicenow_instance_url}/incident.do?sys_id={row['sys_id']}"
    said = await slack.say(ALICE, GENERAL, f"see {link}")
    await slack.wait_for(lambda: said.message.unfurls)

    # Bob subscribes #general (public: channels:read), then a private channel he invited the
    # bot to (groups:read): only members may.
    slack.add_channel("C0PRIVATE0", "secret-ops", private=True, members=[BOB])
    slack.invite_bot("C0PRIVATE0")
    for channel in (GENERAL, "C0PRIVATE0"):
        for old in slack.view_stack(BOB):
            slack.close_view(old, clear=True)
        await slack.send_command(BOB, "subscribe", channel_id=channel)
        await slack.wait_for(
            lambda: (m := slack.current_modal(BOB)) and "subscription:form" in str(m.view)
        )

    assert {c.method for c in slack.calls if not c.error} == set(manifest.METHODS)
    assert slack.scopes_used == set(manifest.SCOPES)
