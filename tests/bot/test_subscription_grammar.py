"""`/incident subscribe` and `/incident subscriptions`, parsed beside the incident subcommands."""

from __future__ import annotations

from bot.commands.router import Help, Router
from bot.incidents import commands as incident_commands
from bot.subscriptions import commands as subscription_commands
from bot.subscriptions.commands import ListSubscriptions, Subscribe

ROUTER = Router.grammar(incident_commands.SUBCOMMANDS, subscription_commands.SUBCOMMANDS)


def parse(text: str) -> object:
    parsed = ROUTER.parse(text)
    return parsed if isinstance(parsed, Help) else parsed.request


def test_subscribe_opens_the_form_and_may_name_a_kind() -> None:
    assert parse("subscribe") == Subscribe(None)
    assert parse("  SUBSCRIBE   Incidents ") == Subscribe("incidents")
    assert isinstance(parse("subscribe incidents now"), Help)


def test_subscriptions_lists_this_channels_and_takes_nothing() -> None:
    assert parse("subscriptions") == ListSubscriptions()
    assert isinstance(parse("subscriptions all"), Help)


def test_help_lists_both() -> None:
    text = ROUTER.usage().text
    assert "/incident subscribe" in text and "/incident subscriptions" in text
