"""Record kinds as values: their numbers, the `/incident` grammar they add, their pure cards."""

from __future__ import annotations

import pytest

from bot.approvals import commands as approval_commands
from bot.changes.kind import KIND as CHANGES
from bot.changes.lists import CHANGES as CHANGE_LIST
from bot.commands.router import Help, Router
from bot.incidents import commands as incident_commands
from bot.problems.kind import KIND as PROBLEMS
from bot.records import commands as record_commands
from bot.records import lists
from bot.records.kind import Kind, View
from bot.requested_items.kind import KIND as REQUESTED_ITEMS
from bot.requested_items.lists import REQUESTS
from servicenow.query import UnsafeQueryValue

KINDS = (REQUESTED_ITEMS, CHANGES, PROBLEMS)
# The router as the bot builds it (incidents first), without what the work needs.
ROUTER = Router.grammar(
    incident_commands.SUBCOMMANDS,
    approval_commands.SUBCOMMANDS,
    *(record_commands.record_subcommands(kind) for kind in KINDS),
    (lists.subcommand(REQUESTS), lists.subcommand(CHANGE_LIST)),
)


def parse(text: str) -> object:
    parsed = ROUTER.parse(text)
    return parsed if isinstance(parsed, Help) else parsed.request


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("RITM0010001", "RITM0010001"),
        ("ritm0010001", "RITM0010001"),
        ("show chg0000001", "CHG0000001"),
        ("  PRB0000001 ", "PRB0000001"),
    ],
)
def test_a_number_of_each_kind_shows_that_kind(text: str, number: str) -> None:
    assert parse(text) == record_commands.Show(number)


def test_incident_numbers_still_go_to_incidents() -> None:
    assert parse("show INC0010001") == incident_commands.Show("INC0010001")
    assert parse("follow INC0010001") == incident_commands.Follow("INC0010001")
    assert parse("follow RITM0010001") == record_commands.Follow("RITM0010001", True)
    assert parse("unfollow PRB0000001") == record_commands.Follow("PRB0000001", False)
    assert parse("comment CHG0000001 rollback plan?") == record_commands.AddComment(
        "CHG0000001", "rollback plan?"
    )


@pytest.mark.parametrize(
    "text", ["show RITM001", "show CHG00000011", "follow PRB^0000001", "show XYZ0000001"]
)
def test_a_malformed_number_gets_usage(text: str) -> None:
    assert isinstance(parse(text), Help)


def test_lists_take_a_page() -> None:
    assert parse("requests") == lists.ListPage(1)
    assert parse("changes page 2") == lists.ListPage(2)
    assert isinstance(parse("changes mine"), Help)


def test_help_names_every_kind() -> None:
    usage = ROUTER.usage().text
    for kind in KINDS:
        assert kind.example in usage


@pytest.mark.parametrize("kind", KINDS)
def test_numbers_are_validated_per_kind_before_any_query(kind: Kind) -> None:
    assert kind.validate(f"{kind.prefix.lower()}0000001") == f"{kind.prefix}0000001"
    for bad in (f"{kind.prefix}000001", "INC0000001", f"{kind.prefix}0000001^ORactive=true"):
        with pytest.raises(UnsafeQueryValue):
            kind.validate(bad)


@pytest.mark.parametrize("kind", KINDS)
def test_cards_escape_what_servicenow_says(kind: Kind) -> None:
    hostile = "<!channel> *bold* <https://evil.example|click>"
    record = {
        "sys_id": "a" * 32,
        "number": f"{kind.prefix}0000001",
        "sys_mod_count": "3",
        "short_description": hostile,
        "state": "1",
        "assigned_to.name": hostile,
        "workaround": hostile,
    }
    card = kind.card(View(record, "https://example.service-now.com/x", {}))
    assert "<!channel>" not in str(card.blocks) and "<!channel>" not in card.text
    assert "&lt;!channel&gt;" in str(card.blocks)
    assert {"record_follow", "record_open"} <= {
        element["action_id"] for block in card.blocks if block["type"] == "actions"
        for element in block["elements"]
    }  # fmt: skip
