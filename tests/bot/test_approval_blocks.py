"""Approval cards, lists, the reject form and the Home tab: pure builders within Slack's limits."""

from __future__ import annotations

from typing import Any

from bot.approvals import cards as approval_cards
from bot.approvals.cards import ApprovalRequest
from bot.home import cards as home_cards
from bot.slack import kit
from sandbox.slack.blockkit import message_problems, view_problems
from servicenow.records import Approval, Incident

URL = "https://dev.example.com/nav_to.do?uri=change_request.do%3Fsys_id%3D" + "c" * 32


def approval(**values: str) -> Approval:
    record = {
        "sys_id": "a" * 32,
        "state": "requested",
        "approver": "b" * 32,
        "approver.name": "Carol Diaz",
        "sysapproval": "c" * 32,
        "sysapproval.number": "CHG0000001",
        "sysapproval.short_description": "Upgrade core switch firmware",
        "source_table": "change_request",
        "due_date": "2026-11-26 07:44:07",
        "sys_mod_count": "0",
        "sys_updated_on": "2026-11-24 09:30:00",
        **values,
    }
    return Approval.from_record(record)


def request(**values: str) -> ApprovalRequest:
    return ApprovalRequest(approval(**values), URL, "Bob Martin")


def actions(card_blocks: Any) -> list[dict[str, Any]]:
    return [b for b in card_blocks if b["type"] == "actions"]


def incident(n: int, **values: str) -> Incident:
    return Incident.from_record(
        {
            "sys_id": f"{n:032x}",
            "number": f"INC{n:07d}",
            "short_description": f"Problem {n}",
            "state": "2",
            "priority": "3",
            "sys_updated_on": "2026-11-24 09:30:00",
            **values,
        }
    )


def test_a_pending_approval_card_says_what_who_when_and_offers_approve_and_reject() -> None:
    card = approval_cards.approval_card(request())
    text = str(card.blocks)
    for expected in ("CHG0000001", "Upgrade core switch firmware", "Bob Martin", "Change request"):
        assert expected in text
    assert "2026-11-26 07:44 UTC" in text
    assert f"<{URL}|CHG0000001>" in text
    [row] = actions(card.blocks)
    controls = {e["action_id"]: e for e in row["elements"]}
    assert controls["approval_approve"]["value"] == "a" * 32
    assert controls["approval_reject"]["value"] == "a" * 32
    assert controls["approval_open"]["url"] == URL
    assert row["block_id"] == f"approval:{'a' * 32}:0"
    assert "CHG0000001" in card.text and message_problems(list(card.blocks)) == []


def test_a_decided_card_shows_the_outcome_who_and_when_without_buttons() -> None:
    approved = approval_cards.approval_card(request(state="approved", sys_mod_count="1"))
    assert actions(approved.blocks) == []
    assert "Approved by Carol Diaz on 2026-11-24 09:30 UTC" in str(approved.blocks)
    assert approved.text.startswith("CHG0000001: Approved by Carol Diaz")

    rejected = approval_cards.approval_card(request(state="rejected"))
    assert ":x:" in str(rejected.blocks) and "Rejected by Carol Diaz" in str(rejected.blocks)

    cancelled = approval_cards.approval_card(request(state="cancelled"))
    assert "Cancelled on 2026-11-24 09:30 UTC" in str(cancelled.blocks)
    assert "by Carol" not in str(cancelled.blocks)


def test_the_card_names_the_kind_of_record_being_approved() -> None:
    assert approval_cards.approval_table_label("change_request") == "Change request"
    assert approval_cards.approval_table_label("sc_req_item") == "Requested item"
    assert approval_cards.approval_table_label("sc_request") == "Request"
    assert approval_cards.approval_table_label("x_custom_thing") == "X custom thing"
    item = approval_cards.approval_card(request(source_table="sc_req_item"))
    assert "Requested item" in str(item.blocks)


def test_user_text_in_an_approval_cannot_inject_links_or_mentions() -> None:
    card = approval_cards.approval_card(
        request(**{"sysapproval.short_description": "<!channel> see <http://evil|here>"})
    )
    assert "<!channel>" not in str(card.blocks)
    assert "&lt;!channel&gt;" in str(card.blocks)


def test_a_card_changes_when_the_approval_is_decided_and_not_otherwise() -> None:
    assert approval_cards.approval_card(request()) == approval_cards.approval_card(request())
    decided = approval_cards.approval_card(request(state="approved", sys_mod_count="1"))
    assert decided.digest() != approval_cards.approval_card(request()).digest()


def test_the_pending_list_has_buttons_per_approval_and_stays_within_a_message() -> None:
    two = approval_cards.approval_list([request(), request(sys_id="d" * 32)])
    assert len(actions(two.blocks)) == 2
    assert message_problems(list(two.blocks)) == []

    many = [request(sys_id=f"{n:032x}") for n in range(40)]
    card = approval_cards.approval_list(many, lead=":white_check_mark: Approved CHG0000001.")
    assert len(card.blocks) <= kit.MESSAGE_BLOCKS_MAX
    assert "Approved CHG0000001" in str(card.blocks[0])
    assert "and 25 more" in str(card.blocks[-1])
    assert message_problems(list(card.blocks)) == []


def test_an_empty_pending_list_says_so() -> None:
    card = approval_cards.approval_list([])
    assert "none" in card.text and actions(card.blocks) == []


def test_the_reject_form_requires_a_reason_and_remembers_the_approval() -> None:
    view = approval_cards.reject_modal(request(), {"origin": "message", "channel": "D0CAROL000"})
    assert view["callback_id"] == "approval_reject"
    [reason] = [b for b in view["blocks"] if b["type"] == "input"]
    assert reason["block_id"] == "reason" and reason["optional"] is False
    assert '"sys_id": "' + "a" * 32 in view["private_metadata"]
    assert '"channel": "D0CAROL000"' in view["private_metadata"]
    assert view_problems(view) == []


def test_the_home_tab_lists_approvals_and_incidents_with_their_buttons() -> None:
    url = "https://dev.example.com/incident"
    view = home_cards.home_view(
        approvals=[request()],
        opened=[(incident(1), url)],
        assigned=[(incident(2, assigned_to_name="Carol Diaz"), url)],
    )
    assert view["type"] == "home" and view_problems(view) == []
    text = str(view["blocks"])
    assert "CHG0000001" in text and "INC0000001" in text and "INC0000002" in text
    ids = [e.get("action_id") for b in actions(view["blocks"]) for e in b["elements"]]
    assert ids.count("approval_approve") == 1 and ids.count("incident_comment") == 2
    assert ids.count("incident_resolve") == 1  # only on work assigned to me
    assert "home_refresh" in ids


def test_a_full_home_tab_stays_within_100_blocks_and_points_at_the_rest() -> None:
    url = "https://dev.example.com/incident"
    view = home_cards.home_view(
        approvals=[request(sys_id=f"{n:032x}") for n in range(60)],
        opened=[(incident(n), url) for n in range(1, 11)],
        assigned=[(incident(n), url) for n in range(1, 11)],  # the same incident in both lists
        opened_total=37,
        assigned_total=12,
        notice=":white_check_mark: Approved CHG0000001.",
    )
    assert len(view["blocks"]) <= kit.VIEW_BLOCKS_MAX
    assert view_problems(view) == []  # includes unique block_ids
    text = str(view["blocks"])
    assert "and 45 more" in text and "and 27 more" in text and "and 2 more" in text


def test_the_home_tab_for_a_problem_explains_it_and_offers_refresh() -> None:
    view = home_cards.home_problem(
        "I couldn't find an active ServiceNow user with *dave@example.com*."
    )
    assert "dave@example.com" in str(view["blocks"])
    assert "home_refresh" in str(view["blocks"])
    assert view_problems(view) == []
