"""Text from ServiceNow or from people shows as written, never as a mention, a broadcast or a link.

Every card, DM, modal, list and Home view is rendered with hostile values in every text field, and
must keep Slack's limits and send no control sequence but the bot's own (sandbox/slack/blockkit.py's
`markup_problems`, the check the Slack stand-in applies to everything the bot sends).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.approvals import cards as approval_cards
from bot.approvals.cards import ApprovalRequest
from bot.approvals.service import Decided
from bot.commands.router import Help, Router
from bot.home import cards as home_cards
from bot.identity import NoServiceNowAccount
from bot.incidents import cards as incident_cards
from bot.incidents.cards import Comment
from bot.incidents.commands import SUBCOMMANDS as INCIDENT_SUBCOMMANDS
from bot.incidents.tracker import describe_changes
from bot.slack.explain import explain
from bot.slack.kit import Card, escape, notice
from sandbox.slack.blockkit import (
    markup_problems,
    message_problems,
    view_markup_problems,
    view_problems,
)
from servicenow.errors import BadRequestError, ForbiddenError, ServiceNowError
from servicenow.records import Approval, Choice, Incident, IncidentState

HOSTILE = (
    "<!channel>",
    "<!here> <!everyone>",
    "<@U123ABC>",
    "<#C0GENERAL0>",
    "<http://x|y>",
    "<https://evil.example|Click here>",
    "<mailto:a@b.c|mail>",
    "&",
    "&lt;!channel&gt;",
    "*_~`>",
    "<text>",
    "x" * 10_000,
    "<!channel>" * 1_000,
    "",
    " ",
)
URL = "https://dev.example.com/nav_to.do?uri=incident.do%3Fsys_id%3D" + "a" * 32
CHANNEL = "C0GENERAL0"


def incident(value: str, state: IncidentState, n: int = 0) -> Incident:
    text_fields = (
        "number",
        "short_description",
        "description",
        "caller_id.name",
        "caller_id.email",
        "assigned_to.name",
        "assigned_to.email",
        "assignment_group.name",
        "category",
        "close_code",
        "close_notes",
        "hold_reason",
        "sys_updated_by",
    )
    record: dict[str, str] = {name: value for name in text_fields}
    record |= {
        "sys_id": f"{n:032x}",
        "state": str(int(state)),
        "priority": "1",
        "caller_id": "b" * 32,
        "assigned_to": "c" * 32,
        "assignment_group": "d" * 32,
        "sys_mod_count": "3",
        "sys_updated_on": "2026-11-24 09:30:00",
        "opened_at": "2026-11-24 08:00:00",
    }
    return Incident.from_record(record)


def approval_request(value: str, state: str, n: int = 0) -> ApprovalRequest:
    record = {
        "sys_id": f"{n + 1000:032x}",
        "state": state,
        "approver": "f" * 32,
        "approver.name": value,
        "sysapproval": "c" * 32,
        "sysapproval.number": value,
        "sysapproval.short_description": value,
        "source_table": value,
        "due_date": "2026-11-26 07:44:07",
        "sys_mod_count": "1",
        "sys_updated_on": "2026-11-24 09:30:00",
    }
    return ApprovalRequest(Approval.from_record(record), URL, value)


def message_faults(card: Card) -> list[str]:
    faults = message_problems(list(card.blocks)) + markup_problems(card.text, list(card.blocks))
    if not card.text.strip():
        faults.append("empty notification text")
    if len(card.text) > 4000:
        faults.append("notification text over 4,000 characters")
    return faults


def view_faults(view: dict[str, Any]) -> list[str]:
    return view_problems(view) + view_markup_problems(view)


def rendered(value: str) -> list[tuple[str, Card | dict[str, Any]]]:
    """Every message and view the bot builds, from records with `value` in every text field."""
    out: list[tuple[str, Card | dict[str, Any]]] = []
    latest = Comment(value, value, datetime(2026, 11, 24, tzinfo=UTC), "1" * 32)
    changes = describe_changes(
        {"state": "2", "assigned_to": "x", "assignment_group": "y", "priority": "3"},
        {
            "state": "3",
            "assigned_to": "z",
            "assigned_to.name": value,
            "assignment_group": "w",
            "assignment_group.name": value,
            "priority": "1",
            "close_code": value,
            "latest_comment": "2" * 32,
        },
    )
    choices = [Choice(value[:40] or "v", value), Choice("other", value)]
    carry = {"origin": "channel", "channel": CHANNEL}
    incidents = [incident(value, state, n) for n, state in enumerate(IncidentState)]
    for item in incidents:
        name = item.state.label
        out += [
            (f"card {name}", incident_cards.incident_card(item, URL, latest)),
            (f"card {name} without comment", incident_cards.incident_card(item, URL)),
            (f"caller DM {name}", incident_cards.state_change_dm(item, URL, value)),
            (f"assignee DM {name}", incident_cards.assigned_dm(item, URL)),
            (f"follower DM {name}", incident_cards.follower_dm(item, URL, changes)),
        ]
    one = incidents[0]
    for scope in ("mine", "assigned", "group"):
        out.append(
            (
                f"list {scope}",
                incident_cards.incident_list(
                    scope, incidents, [URL] * len(incidents), page=2, total=30
                ),
            )
        )
    out += [
        ("comment form", incident_cards.comment_modal(one, public=True, carry=carry)),
        ("work note form", incident_cards.comment_modal(one, public=False, carry=carry)),
        ("resolve form", incident_cards.resolve_modal(one, choices, carry)),
        ("hold form", incident_cards.hold_modal(one, carry)),
        ("create form", incident_cards.create_modal(CHANNEL, choices)),
    ]
    requests = [
        approval_request(value, state, n)
        for n, state in enumerate(("requested", "approved", "rejected"))
    ]
    many = [approval_request(value, "requested", n) for n in range(3, 23)]
    pending = requests[0]
    decided = Decided(requests[1], approval_cards.approval_card(requests[1]))
    for request in requests:
        out.append((f"approval DM {request.approval.state}", approval_cards.approval_card(request)))
    out += [
        ("approval list", approval_cards.approval_list(many)),
        ("approval list after", approval_cards.approval_list([], lead=decided.confirmation)),
        ("reject form", approval_cards.reject_modal(pending, carry)),
        (
            "home",
            home_cards.home_view(
                approvals=many,
                opened=[(i, URL) for i in incidents],
                assigned=[(i, URL) for i in incidents],
                opened_total=40,
                assigned_total=40,
                notice=decided.confirmation,
            ),
        ),
        ("home, no account", home_cards.home_problem(str(NoServiceNowAccount(value)))),
        ("home, someone else", home_cards.home_problem(str(NoServiceNowAccount(value, "U1")))),
    ]
    answers = [
        decided.confirmation,
        explain(ServiceNowError(value, status=500, detail=value)),
        explain(BadRequestError(value, status=400)),
        explain(ForbiddenError(value, status=403, detail=value)),
        explain(ForbiddenError(f"Data Policy Exception: following fields are mandatory: {value}")),
    ]
    out += [(f"answer {i}", notice(text)) for i, text in enumerate(answers)]
    grammar = Router.grammar(INCIDENT_SUBCOMMANDS)
    for typed in (value, f"comment {value}", f"hold INC0010001 {value}", f"assign {value}"):
        parsed = grammar.parse(typed)
        if isinstance(parsed, Help):
            out.append((f"help for {typed[:20]!r}", grammar.usage(parsed.problem)))
    return out


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v[:24]) + f"/{len(v)}")
def test_hostile_text_is_shown_as_written_within_slacks_limits(value: str) -> None:
    faults = {}
    for name, what in rendered(value):
        found = message_faults(what) if isinstance(what, Card) else view_faults(what)
        if found:
            faults[name] = found[:3]
    assert faults == {}


def test_the_bot_s_own_links_and_mentions_pass_and_smuggled_ones_do_not() -> None:
    fine = "*<https://dev.example.com/x?a=1|INC0010001>* for <@U0ALICE01> in <#C0GENERAL0> <mailto:a@b.c>"
    assert (
        markup_problems(fine, [{"type": "section", "text": {"type": "mrkdwn", "text": fine}}]) == []
    )
    for smuggled in (
        "<!channel>",
        "<!here>",
        "<!everyone>",
        "<text>",
        "<javascript:x|y>",
        "<@alice>",
    ):
        blocks = [{"type": "context", "elements": [{"type": "mrkdwn", "text": f"a {smuggled} b"}]}]
        assert markup_problems(None, blocks), smuggled
        assert markup_problems(smuggled, []), smuggled
    # plain_text shows `<` as typed: not a control sequence
    plain = [{"type": "header", "text": {"type": "plain_text", "text": "<!channel>"}}]
    assert markup_problems(None, plain) == []


def test_escaping_keeps_what_was_written_readable() -> None:
    assert escape("<!channel> & <https://evil|Click here>") == (
        "&lt;!channel&gt; &amp; &lt;https://evil|Click here&gt;"
    )
    card = incident_cards.incident_card(incident("<!channel>", IncidentState.ON_HOLD), URL)
    assert "&lt;!channel&gt;" in card.to_json()
    assert "<!channel>" not in card.to_json()
