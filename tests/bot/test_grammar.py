from __future__ import annotations

import pytest

from bot.grammar import Create, Help, parse


@pytest.mark.parametrize("text", ["", "   ", "help", "HELP", "--help", "?"])
def test_bare_and_help_ask_for_usage(text: str) -> None:
    assert parse(text) == Help()


def test_free_text_creates_an_incident() -> None:
    assert parse("  printer on fire ") == Create("printer on fire")


def test_new_is_the_same_as_free_text() -> None:
    assert parse("new printer on fire") == Create("printer on fire")
    assert parse("new") == Help()
