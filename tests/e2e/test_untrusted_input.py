"""What Slack did not sign is never trusted, and what Slack signed never crashes the bot.

- a `response_url` slipped into a modal's private_metadata is never called: the reject form opened
  from an ephemeral `/incident approvals` list answers with a fresh list through chat.postEphemeral;
- signed but malformed payloads (no `actions`, no `view` state, no user, wrong types) get an
  answer, never a 500.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox.servicenow import seed
from sandbox.slack.records import CAROL, GENERAL
from sandbox.stack import Stack

# The seeded change approval is decided with the buttons here: no table needs an e-signature
# (test_permissions.py covers the default, where a change's approval is signed in ServiceNow).
pytestmark = pytest.mark.stack_settings(e_signature_tables="")


TABLE = "sysapproval_approver"


async def test_a_response_url_forged_into_the_reject_form_is_never_called(stack: Stack) -> None:
    await stack.slack.send_command(CAROL, "approvals")
    await stack.slack.wait_for(
        lambda: [e for e in stack.slack.ephemerals_for(CAROL) if "CHG0000001" in str(e.blocks)]
    )
    await stack.slack.send_block_action(
        CAROL, action_id="approval_reject", value=seed.CHANGE_APPROVAL, channel_id=GENERAL
    )
    form = await stack.slack.wait_for(
        lambda: (
            (m := stack.slack.current_modal(CAROL))
            and m.view.get("callback_id") == "approval_reject"
            and m
        )
    )
    metadata = json.loads(form.view["private_metadata"])
    assert metadata.get("origin") == "ephemeral"
    assert "response_url" not in metadata  # nothing carried that Slack would not sign again
    # Someone able to shape the metadata points it at a live hook of their choosing.
    forged = stack.slack.issue_response_url(GENERAL, CAROL)
    hook = forged.rsplit("/", 1)[-1]
    form.view["private_metadata"] = json.dumps({**metadata, "response_url": forged})

    reason = {"reason": {"value": {"type": "plain_text_input", "value": "Not this week"}}}
    await stack.slack.send_view_submission(CAROL, form.id, reason)

    [told] = await stack.slack.wait_for(
        lambda: [
            e
            for e in stack.slack.ephemerals_for(CAROL)
            if e.source == "api" and "Rejected CHG0000001" in e.text
        ]
    )
    assert told.channel == GENERAL
    assert "RITM0000001" in str(told.blocks)  # the fresh list, still pending there
    row = stack.emulator.get(TABLE, seed.CHANGE_APPROVAL)
    assert row is not None and row["state"] == "rejected"
    assert hook not in stack.slack.response_url_posts


MALFORMED_INTERACTIONS: list[dict[str, Any]] = [
    {"type": "block_actions", "user": {"id": CAROL}},
    {"type": "block_actions", "user": {"id": CAROL}, "actions": []},
    {"type": "block_actions", "user": {"id": CAROL}, "actions": [None]},
    {"type": "block_actions", "actions": [{"action_id": "approval_approve", "value": 7}]},
    {
        "type": "block_actions",
        "user": CAROL,
        "container": "x",
        "actions": [{"action_id": "approval_approve", "selected_option": "x"}],
    },
    {"type": "block_actions", "user": {"id": CAROL}, "actions": [{"action_id": "incident_state"}]},
    {"type": "view_submission", "user": {"id": CAROL}, "view": {"callback_id": "approval_reject"}},
    {
        "type": "view_submission",
        "user": {"id": CAROL},
        "view": {"type": "modal", "callback_id": "approval_reject"},
    },
    {
        "type": "view_submission",
        "user": {"id": CAROL},
        "view": {
            "type": "modal",
            "callback_id": "approval_reject",
            "state": None,
            "private_metadata": "{",
        },
    },
    {
        "type": "view_submission",
        "view": {
            "type": "modal",
            "callback_id": "incident_resolve",
            "state": {"values": {"close_code": [], "close_notes": {"value": "x"}}},
            "private_metadata": "[1, 2]",
        },
    },
    {"type": "view_submission", "user": {"id": CAROL}, "view": None},
    {"type": "view_submission", "user": {"id": CAROL}},
    {"type": "block_suggestion", "action_id": "group", "value": None},
    {"type": "block_suggestion", "user": {"id": CAROL}},
    {"type": "nonsense"},
    {},
]


@pytest.mark.parametrize("payload", MALFORMED_INTERACTIONS, ids=lambda p: json.dumps(p)[:60])
async def test_a_signed_but_malformed_interaction_gets_no_500(
    stack: Stack, payload: dict[str, Any]
) -> None:
    reply = await stack.slack.send_signed({"payload": json.dumps(payload)})
    assert reply.status < 500, reply.body


@pytest.mark.parametrize(
    "fields",
    [
        {"payload": "not json"},
        {"payload": "[1, 2, 3]"},
        {"payload": "[" * 5000},
        {},
    ],
    ids=["not-json", "a-list", "deep", "empty"],
)
async def test_a_signed_form_that_is_not_a_payload_gets_no_500(
    stack: Stack, fields: dict[str, str]
) -> None:
    reply = await stack.slack.send_signed(fields)
    assert reply.status < 500, reply.body


@pytest.mark.parametrize(
    "fields",
    [
        {"command": "/incident"},
        {"command": "/incident", "text": "assign INC0010001 me", "channel_id": GENERAL},
        {"command": "/incident", "user_id": CAROL, "text": "<!channel> \x00 " + "x" * 5000},
    ],
    ids=["no-user", "no-user-with-work", "hostile-text"],
)
async def test_a_signed_but_malformed_command_gets_no_500(
    stack: Stack, fields: dict[str, str]
) -> None:
    reply = await stack.slack.send_signed(fields, kind="command")
    assert reply.status < 500, reply.body
