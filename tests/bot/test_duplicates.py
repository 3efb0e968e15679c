"""The duplicate check's pure parts: which words count, and the encoded query they make."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.incidents.duplicates import (
    DAYS,
    Candidate,
    choice_card,
    significant_words,
    similar_query,
)
from bot.incidents.from_message import plain_text, prefill
from tests.bot.test_blocks import make_incident


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("is VPN down for anyone else?", ["down", "vpn"]),
        ("printer on fire", ["printer", "fire"]),
        ("Printer on FIRE, printer!", ["printer", "fire"]),
        ("the it is", []),
        ("error 404 on the intranet portal login page", ["intranet", "portal", "error", "login"]),
        ("zebra^NQactive=true", ["nqactive", "zebra", "true"]),
        ("javascript:gs.getUserID()", ["javascript", "getuserid"]),
        ("Drucker brennt überall", ["drucker", "überall", "brennt"]),
    ],
)
def test_significant_words_are_the_longest_content_words(text: str, words: list[str]) -> None:
    assert significant_words(text) == words


def test_the_query_asks_for_open_recent_incidents_with_every_word() -> None:
    now = datetime(2026, 12, 3, 6, 0, 0, tzinfo=UTC)
    query = similar_query(["printer", "fire"], now)
    assert query is not None
    assert str(query) == (
        "active=true^stateNOT IN6,7,8^sys_created_on>=2026-11-30 06:00:00"
        "^short_descriptionLIKEprinter^short_descriptionLIKEfire"
    )
    assert DAYS == 3
    assert similar_query([]) is None
    assert similar_query(["refresh"]) is None  # one word in common is no likely duplicate


def test_words_never_carry_query_syntax_into_the_query() -> None:
    # Letters and digits only: no ^, =, @ or comma can reach a LIKE value.
    for hostile in ("x^ORactive=true", "a^NQsys_id!=0", "javascript:alert(1)", "zebra,lion@tiger"):
        query = similar_query(significant_words(f"printer {hostile}"))
        assert query is not None
        conditions = str(query).split("^")
        assert all(c.count("LIKE") <= 1 for c in conditions)
        assert "^OR" not in str(query) and "^NQ" not in str(query)


def test_the_question_offers_three_choices_and_comment_only_where_allowed() -> None:
    first = make_incident()
    card = choice_card(
        "printer on fire",
        [Candidate(first, "https://x/1", True), Candidate(first, "https://x/2", False)],
        "d" * 32,
    )
    ids = [e["action_id"] for b in card.blocks if b["type"] == "actions" for e in b["elements"]]
    assert ids == [
        "incident_draft_follow",
        "incident_draft_comment",
        "incident_draft_follow",
        "incident_draft_open",
    ]


def test_a_message_becomes_plain_text_and_its_first_line_the_short_description() -> None:
    text = "VPN &lt;down&gt; for <@U0BOB00000|bob> &amp; me\nsee <https://status.example.com|status> and <#C1|ops>"
    assert plain_text(text) == (
        "VPN <down> for @bob & me\nsee status (https://status.example.com) and #ops"
    )
    short, description = prefill(text, "https://sandbox.slack.com/archives/C1/p1")
    assert short == "VPN <down> for @bob & me"
    assert description == (
        "see status (https://status.example.com) and #ops\n\n"
        "From Slack: https://sandbox.slack.com/archives/C1/p1"
    )
    long_line = "word " * 50
    short, description = prefill(long_line, "")
    assert len(short) <= 160 and description == long_line.strip()
    assert prefill("", "https://l") == ("", "From Slack: https://l")
