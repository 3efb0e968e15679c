"""Parsers that cannot crash: whatever arrives, a request or Help, an Interaction, or a declared refusal.

Fuzzed with Hypothesis: the /incident grammar, every Slack payload parser (commands, actions, views,
private_metadata, the guard in front of Bolt), ServiceNow record parsing and the webhook's event
parser.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.approvals import commands as approval_commands
from bot.commands.router import Help, Parsed, Router
from bot.incidents import commands as incident_commands
from bot.slack.interactions import Interaction, readable
from sandbox.slack.blockkit import markup_problems, message_problems
from servicenow.records import Approval, Incident
from servicenow.webhook import InvalidEvent, sign, verify

GRAMMAR = Router.grammar(incident_commands.SUBCOMMANDS, approval_commands.SUBCOMMANDS)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

WORDS = st.sampled_from(
    [
        "new", "list", "assigned", "group", "assign", "me", "comment", "note", "resolve", "close",
        "reopen", "hold", "vendor", "caller", "notify", "on", "off", "approvals", "help", "?",
        "INC0010001", "inc0010001", "INC", "<@U0ALICE01>", "<@U0ALICE01|alice>", "<!channel>",
        "<#C0GENERAL0|general>", "@alice", "2", "-1", "\n", "\t", "&", "`", "*_~",
    ]
)  # fmt: skip
COMMAND_TEXT = st.one_of(
    st.text(),
    st.lists(st.one_of(WORDS, st.text(max_size=12)), max_size=8).map(" ".join),
)

# Anything JSON can carry: Slack's payloads as they should be, and as they should never be.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
KEYS = st.sampled_from(
    [
        "type", "user", "id", "actions", "action_id", "value", "selected_option", "block_id",
        "container", "channel", "channel_id", "is_ephemeral", "view", "state", "values",
        "private_metadata", "callback_id", "response_url", "trigger_id", "user_id", "text",
        "command", "event",
    ]
)  # fmt: skip
# Payload-shaped: Slack's own keys, with any values, nested the way Slack nests them.
SHAPED = st.recursive(
    JSON,
    lambda inner: st.dictionaries(KEYS, inner, max_size=6) | st.lists(inner, max_size=3),
    max_leaves=25,
)


def exercise(interaction: Interaction) -> None:
    """Everything the listeners read from an Interaction."""
    assert isinstance(interaction.user, str) and isinstance(interaction.value, str)
    _ = (interaction.key, interaction.record, interaction.carry())
    for block_id in ("reason", "text", "close_code", *interaction.values):
        interaction.text(block_id)
        interaction.selected(block_id)
    assert "response_url" not in interaction.carry()


@FUZZ
@given(COMMAND_TEXT)
def test_the_grammar_answers_every_text_with_a_request_or_help(text: str) -> None:
    parsed = GRAMMAR.parse(text)
    assert isinstance(parsed, Parsed | Help)
    if isinstance(parsed, Help):
        card = GRAMMAR.usage(parsed.problem)
        assert message_problems(list(card.blocks)) == []
        assert markup_problems(card.text, list(card.blocks)) == []
    else:
        parsed.ack_text  # noqa: B018 - computing the ack must not raise either


@FUZZ
@given(st.one_of(SHAPED, st.dictionaries(KEYS, SHAPED, max_size=8)))
def test_command_action_and_view_parsers_read_any_payload(payload: Any) -> None:
    body = payload if isinstance(payload, dict) else {"payload": payload}
    for parse in (Interaction.of_command, Interaction.of_action, Interaction.of_view):
        exercise(parse(body))
    readable(payload)


@FUZZ
@given(
    st.one_of(
        st.text(),
        JSON.map(json.dumps),
        st.dictionaries(st.text(max_size=10), JSON, max_size=5).map(json.dumps),
        st.integers(min_value=1, max_value=3000).map(lambda n: "[" * n),
    ),
    st.dictionaries(st.text(max_size=10), JSON, max_size=3),
)
def test_private_metadata_is_read_whatever_it_holds(metadata: str, values: Any) -> None:
    body = {
        "user": {"id": "U0CAROL000"},
        "view": {"type": "modal", "private_metadata": metadata, "state": {"values": values}},
    }
    interaction = Interaction.of_view(body)
    exercise(interaction)
    assert interaction.response_url is None  # never from the metadata
    assert all(isinstance(v, str) for v in interaction.metadata.values())


def test_a_response_url_in_private_metadata_is_not_read() -> None:
    metadata = json.dumps({"origin": "ephemeral", "channel": "C1", "response_url": "https://x"})
    body = {"user": {"id": "U1"}, "view": {"type": "modal", "private_metadata": metadata}}
    interaction = Interaction.of_view(body)
    assert interaction.response_url is None
    assert (interaction.origin, interaction.channel) == ("ephemeral", "C1")


RECORD_VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "1", "2", "6", "-3", "99999999999999999999", "1e5", "true", "x", "٣"]),
    st.sampled_from(["2026-11-24 09:30:00", "2026-13-40 99:99:99", "2026-11-24"]),
    JSON,
)


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from([*Incident.FIELDS, *Approval.FIELDS, "other"]), RECORD_VALUES, max_size=30
    )
)
def test_servicenow_records_parse_or_are_refused_as_invalid(record: dict[str, Any]) -> None:
    for model in (Incident, Approval):
        with contextlib.suppress(ValidationError):  # the declared refusal
            model.from_record(record)


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=200),
        JSON.map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries(
            {"table": RECORD_VALUES, "sys_id": RECORD_VALUES, "sys_mod_count": RECORD_VALUES},
            optional={"sys_updated_on": RECORD_VALUES, "number": RECORD_VALUES},
        ).map(lambda v: json.dumps(v).encode()),
        st.integers(min_value=1, max_value=5000).map(lambda n: b"[" * n),
    )
)
def test_a_signed_webhook_body_is_an_event_or_invalid_event(body: bytes) -> None:
    timestamp = "1790000000"
    signature = sign("secret", timestamp, body)
    with contextlib.suppress(InvalidEvent):
        verify("secret", timestamp, signature, body, now=1790000000)
