"""What the end-to-end tests of people and permissions do and look at, shared by
test_permission_matrix.py, test_permissions.py and test_acting.py: read the stand-ins' records, press
the buttons a card carries, and start the bot acting as each person (JWT bearer grant)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sandbox.servicenow import seed
from sandbox.servicenow.emulator import RecordedRequest
from sandbox.slack import Ephemeral, Message
from sandbox.slack.records import BOB, GENERAL
from sandbox.stack import Stack
from servicenow.auth import JWT_BEARER, generate_key_pair

# One key pair for the whole run: generating RSA keys is the slow part of a JWT test's set-up.
PRIVATE_KEY, PUBLIC_KEY, KEY_ID = generate_key_pair()

WRITES = ("POST", "PUT", "PATCH", "DELETE")


# ---- what the person was told ---------------------------------------------------------------------


def told(stack: Stack, user: str) -> list[str]:
    """What only `user` saw, oldest first (answers and refusals; acks left out)."""
    return [e.text for e in stack.slack.ephemerals_for(user) if e.source != "ack"]


async def answer(stack: Stack, user: str, after: int = 0) -> str:
    """The first thing `user` is told after the `after` they had been told already."""
    return (await reply_to(stack, user, after)).text


async def reply_to(stack: Stack, user: str, after: int = 0) -> Ephemeral:
    """`answer`, with its blocks: the next ephemeral (response_url or chat.postEphemeral)."""

    def found() -> list[Ephemeral]:
        return [e for e in stack.slack.ephemerals_for(user) if e.source != "ack"][after:]

    return (await stack.slack.wait_for(found))[0]


# ---- ServiceNow's records and requests ------------------------------------------------------------


def incident(stack: Stack, number: str) -> dict[str, str]:
    [row] = stack.emulator.query("incident", f"number={number}")
    return row


def bobs_incident(stack: Stack, **values: str) -> str:
    """An incident Bob called in (in Hardware, assigned to nobody): not Alice's."""
    row = stack.emulator.insert(
        "incident",
        {
            "caller_id": seed.BOB,
            "opened_by": seed.BOB,
            "short_description": "Docking station dead",
            "assignment_group": seed.HARDWARE,
            **values,
        },
        as_user="bob.martin",
    )
    return row["number"]


def table_writes(stack: Stack, since: int = 0) -> list[RecordedRequest]:
    """Every Table API write that reached the emulator, from request number `since` on."""
    return [
        r
        for r in stack.emulator.requests[since:]
        if r.method in WRITES and r.path.startswith("/api/now/table/")
    ]


def exchanges(stack: Stack) -> int:
    """How many JWT bearer grants the bot asked /oauth_token.do for."""
    return sum(
        1
        for request in stack.emulator.requests
        if request.path == "/oauth_token.do"
        and isinstance(request.body, dict)
        and request.body.get("grant_type") == JWT_BEARER
    )


# ---- cards and their buttons ------------------------------------------------------------------------


def actions(message: Message) -> dict[str, Any]:
    """A card's actions block: its block_id and each element by action_id."""
    block = next(b for b in message.blocks if b["type"] == "actions")
    return {"block_id": block["block_id"], **{e["action_id"]: e for e in block["elements"]}}


async def card_in_general(stack: Stack, number: str) -> Message:
    """The incident's card, posted in #general by Bob (who may see every incident)."""
    await stack.slack.send_command(BOB, number, channel_id=GENERAL)
    return await stack.slack.wait_for(
        lambda: next((m for m in stack.slack.messages_in(GENERAL) if number in m.text), None)
    )


async def click(stack: Stack, user: str, card: Message, action_id: str, **extra: Any) -> None:
    controls = actions(card)
    await stack.slack.send_block_action(
        user,
        action_id=action_id,
        block_id=controls["block_id"],
        value=controls[action_id].get("value"),
        message=card,
        **extra,
    )


async def choose_state(stack: Stack, user: str, card: Message, move: str) -> None:
    """Pick the card's state-menu entry for `move` (a Move value: "2" start, "8" cancel…)."""
    menu = actions(card)["incident_state"]
    option = next(o for o in menu["options"] if o["value"].endswith(f":{move}"))
    await stack.slack.send_block_action(
        user,
        action_id="incident_state",
        block_id=actions(card)["block_id"],
        selected_option=option,
        message=card,
    )


async def modal_text(stack: Stack, user: str) -> str:
    view = await stack.slack.wait_for(
        lambda: (m := stack.slack.current_modal(user)) and m.view["callback_id"] != "loading" and m
    )
    return str(view.view)


# ---- acting as the person ---------------------------------------------------------------------------


def jwt_settings(tmp_path: Path) -> dict[str, Any]:
    """The bot's settings for acting as each person with the JWT bearer grant."""
    key_file = tmp_path / "jwt.pem"
    key_file.write_text(PRIVATE_KEY)
    return {
        "servicenow_client_id": seed.OAUTH_CLIENT_ID,
        "servicenow_client_secret": seed.OAUTH_CLIENT_SECRET,
        "servicenow_jwt_private_key": str(key_file),
        "servicenow_jwt_key_id": KEY_ID,
    }


def trust_jwt_key(stack: Stack) -> None:
    """Register the bot's key for the OAuth client, as docs/servicenow-setup.md §5 does."""
    stack.emulator.register_jwt_key(seed.OAUTH_CLIENT_ID, PUBLIC_KEY, KEY_ID)
