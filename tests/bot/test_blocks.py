"""Block Kit builders: snapshots of the cards, and Slack's limits held whatever the input."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.incidents import cards
from bot.incidents.vocabulary import STEPS, moves_from
from bot.slack import kit
from servicenow.records import Choice, Incident, IncidentState

SNAPSHOTS = Path(__file__).parent / "snapshots"
URL = "https://dev1.service-now.com/nav_to.do?uri=incident.do%3Fsys_id%3D" + "a" * 32


def make_incident(**values: str) -> Incident:
    record = {
        "sys_id": "a" * 32,
        "number": "INC0010001",
        "short_description": "Printer on fire",
        "state": "2",
        "priority": "3",
        "impact": "2",
        "urgency": "2",
        "caller_id.name": "Alice Chen",
        "assigned_to.name": "Bob Martin",
        "assignment_group.name": "Hardware",
        "sys_mod_count": "4",
        "sys_updated_on": "2026-11-24 09:15:00",
        "opened_at": "2026-11-24 09:00:00",
        **values,
    }
    return Incident.from_record(record)


def check_snapshot(name: str, value: Any) -> None:
    path = SNAPSHOTS / f"{name}.json"
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        path.write_text(text)
        if not os.environ.get("UPDATE_SNAPSHOTS"):
            pytest.fail(f"wrote new snapshot {path.name}; check it in and rerun")
    assert text == path.read_text()


def walk_texts(value: Any) -> list[tuple[str, str]]:
    """Every (kind, text) pair in a Block Kit structure."""
    found: list[tuple[str, str]] = []
    if isinstance(value, dict):
        if value.get("type") in ("mrkdwn", "plain_text") and "text" in value:
            found.append((value["type"], value["text"]))
        for child in value.values():
            found.extend(walk_texts(child))
    elif isinstance(value, list):
        for child in value:
            found.extend(walk_texts(child))
    return found


def test_in_progress_card_snapshot() -> None:
    latest = cards.Comment(
        "Rebooted it, smoke is gone", "bob.martin", datetime(2026, 11, 24, 9, 10, tzinfo=UTC)
    )
    card = cards.incident_card(make_incident(), URL, latest)
    check_snapshot("incident_card_in_progress", {"text": card.text, "blocks": list(card.blocks)})


def test_resolved_card_snapshot_shows_the_resolution_and_reopen() -> None:
    incident = make_incident(
        state="6", close_code="Solution provided", close_notes="Replaced the fuser."
    )
    card = cards.incident_card(incident, URL)
    check_snapshot("incident_card_resolved", {"text": card.text, "blocks": list(card.blocks)})


def test_a_card_is_a_value() -> None:
    assert cards.incident_card(make_incident(), URL) == cards.incident_card(make_incident(), URL)
    assert hash(cards.incident_card(make_incident(), URL)) == hash(
        cards.incident_card(make_incident(), URL)
    )
    other = cards.incident_card(make_incident(state="3"), URL)
    assert other.digest() != cards.incident_card(make_incident(), URL).digest()


def test_huge_text_is_cut_with_an_ellipsis_never_over_the_limits() -> None:
    huge = "x" * 10_000
    incident = make_incident(
        short_description=huge, **{"caller_id.name": huge, "assignment_group.name": huge}
    )
    card = cards.incident_card(incident, URL, cards.Comment(huge, huge, None))
    assert len(card.blocks) <= kit.MESSAGE_BLOCKS_MAX
    assert len(card.text) <= kit.MESSAGE_TEXT_MAX
    for block in card.blocks:
        if "text" in block:
            assert len(block["text"]["text"]) <= kit.SECTION_TEXT_MAX
        for field in block.get("fields", []):
            assert len(field["text"]) <= kit.FIELD_TEXT_MAX
    assert any(text.endswith("…") for _, text in walk_texts(list(card.blocks)))


def test_user_text_cannot_ping_channels_or_forge_links() -> None:
    card = cards.incident_card(
        make_incident(short_description="<!channel> see <http://evil|here>"), URL
    )
    assert "<!channel>" not in card.to_json() and "&lt;!channel&gt;" in card.to_json()


def test_modals_and_options_keep_within_limits() -> None:
    long_choices = [Choice(f"code {n} " + "y" * 200, "label " + "z" * 200) for n in range(150)]
    view = cards.resolve_modal(make_incident(number="INC0010001"), long_choices, {"channel": "C1"})
    assert len(view["title"]["text"]) <= kit.TITLE_MAX
    select = next(b for b in view["blocks"] if b.get("block_id") == "close_code")["element"]
    assert len(select["options"]) <= 100
    for option in select["options"]:
        assert len(option["text"]["text"]) <= kit.OPTION_TEXT_MAX
        assert len(option["value"]) <= kit.OPTION_VALUE_MAX
    for view in (
        cards.create_modal("C1", None),
        cards.comment_modal(make_incident(), public=False, carry={}),
        cards.hold_modal(make_incident(), {"channel": "C1"}),
    ):
        assert len(view["title"]["text"]) <= kit.TITLE_MAX
        assert len(view["private_metadata"]) <= 3000


def test_state_menu_offers_only_moves_that_make_sense() -> None:
    labels = {
        state: [label for _, label in state_menu(make_incident(state=state).state)]
        for state in ("1", "2", "3", "6", "7")
    }
    assert labels["1"] == ["In Progress", "On Hold…", "Resolved…", "Canceled"]
    assert labels["2"] == ["On Hold…", "Resolved…"]
    assert labels["6"] == ["Reopen", "Closed"]
    assert labels["7"] == []


def test_list_pages_link_forward_and_back() -> None:
    incidents = [make_incident(number=f"INC00100{n:02d}") for n in range(10)]
    card = cards.incident_list("mine", incidents, [URL] * 10, page=2, total=25)
    nav = card.blocks[-1]["elements"]
    assert [e["value"] for e in nav] == ["mine:1", "mine:3"]
    assert "page 2 of 3" in card.text


def state_menu(state: IncidentState) -> list[tuple[str, str]]:
    return [(move.value, STEPS[move].label) for move in moves_from(state)]
