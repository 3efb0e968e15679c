from __future__ import annotations

import pytest

from bot.approvals import commands as approval_commands
from bot.approvals.commands import ListApprovals as Approvals
from bot.commands.router import Help, Router
from bot.incidents import commands as incident_commands
from bot.incidents.commands import (
    Assign,
    Bare,
    Close,
    Comment,
    Create,
    Hold,
    ListIncidents,
    Notify,
    Reopen,
    Resolve,
    Show,
)
from bot.incidents.vocabulary import HoldReason

# The router as the bot builds it, without what the subcommands' work needs: parsing is pure.
ROUTER = Router.grammar(incident_commands.SUBCOMMANDS, approval_commands.SUBCOMMANDS)


def parse(text: str) -> object:
    parsed = ROUTER.parse(text)
    return parsed if isinstance(parsed, Help) else parsed.request


@pytest.mark.parametrize("text", ["", "   "])
def test_bare_command_opens_the_create_modal(text: str) -> None:
    assert parse(text) == Bare()


@pytest.mark.parametrize("text", ["help", "HELP", "--help", "?"])
def test_help_asks_for_usage(text: str) -> None:
    assert parse(text) == Help()


def test_free_text_and_new_create_an_incident() -> None:
    assert parse("  printer on fire ") == Create("printer on fire")
    assert parse("new printer   on fire") == Create("printer   on fire")
    assert parse("printer") == Create("printer")
    assert isinstance(parse("new"), Help)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("INC0010001", Show("INC0010001")),
        ("inc0010001", Show("INC0010001")),
        ("show inc0010001", Show("INC0010001")),
        ("resolve INC0010001", Resolve("INC0010001")),
        ("close INC0010001", Close("INC0010001")),
        ("REOPEN INC0010001", Reopen("INC0010001")),
        ("list", ListIncidents("mine", 1)),
        ("list assigned", ListIncidents("assigned", 1)),
        ("list group page 3", ListIncidents("group", 3)),
        ("list page 2", ListIncidents("mine", 2)),
        ("assign INC0010001 me", Assign("INC0010001", "me")),
        ("assign INC0010001 <@U0BOB00000|bob>", Assign("INC0010001", "U0BOB00000")),
        ("assign INC0010001 <@U0BOB00000>", Assign("INC0010001", "U0BOB00000")),
        (
            "comment INC0010001 rebooted,  still broken",
            Comment("INC0010001", "rebooted,  still broken", True),
        ),
        ("note inc0010001 checked the logs", Comment("INC0010001", "checked the logs", False)),
        (
            "hold INC0010001 vendor parts ordered",
            Hold("INC0010001", HoldReason.VENDOR, "parts ordered"),
        ),
        (
            "hold INC0010001 awaiting caller call me back",
            Hold("INC0010001", HoldReason.CALLER, "call me back"),
        ),
        ("hold INC0010001 change", Hold("INC0010001", HoldReason.CHANGE, "")),
        ("notify off", Notify(False)),
        ("notify ON", Notify(True)),
        ("approvals", Approvals()),
    ],
)
def test_commands_parse_forgivingly(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "resolve",
        "resolve INC12",
        "close INC0010001 now",
        "list everything",
        "assign INC0010001",
        "assign INC0010001 bob",
        "comment INC0010001",
        "note nothing here",
        "hold INC0010001 lunch",
        "notify maybe",
        "INC0010001 please fix",
    ],
)
def test_malformed_commands_get_usage_that_says_what_was_wrong(text: str) -> None:
    request = parse(text)
    assert isinstance(request, Help)
    assert request.problem
