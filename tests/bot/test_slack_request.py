"""`/slack/events` bodies read as Slack sends them (bot/slack/request.py): a form is an
interactivity payload only when it has a `payload` field, whatever text its fields hold."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.slack.request import SlackRequest, parse_body
from sandbox.slack.payloads import slash_command_form
from sandbox.slack.records import Channel, SlackUser
from tests.bot.test_fuzz_parsers import FUZZ, SHAPED

FORM = "application/x-www-form-urlencoded"
TEXT = st.text(st.characters(codec="utf-8"), max_size=30)
NAMES = st.one_of(
    st.sampled_from(["command", "text", "user_id", "team_id", "channel_id", "channel_name"]),
    TEXT,
).filter(lambda name: name != "payload")
SAYING_PAYLOAD = st.one_of(TEXT, st.just("payload"), TEXT.map(lambda t: f"payload {t}"))


@FUZZ
@given(st.dictionaries(NAMES, SAYING_PAYLOAD, max_size=8))
def test_a_form_without_a_payload_field_is_its_fields(form: dict[str, str]) -> None:
    raw = urlencode(form)
    assert parse_body(raw, FORM) == form
    request = SlackRequest(body=raw, headers={"content-type": FORM})
    assert request.body == form and request.raw_body == raw
    assert request.to_copyable().body == form


def test_a_command_saying_payload_from_a_payload_channel_has_its_ids_in_the_context() -> None:
    raw = slash_command_form(
        team_id="T0PAYLOAD0",
        channel=Channel("C0PAYLOAD0", "payload-team"),
        user=SlackUser("U0PAYLOAD0", "payload.admin", "Pay Load", None),
        command="/incident",
        text="payload server down",
        response_url="https://hooks.slack.test/payload",
        trigger_id="1.payload",
    )
    request = SlackRequest(body=raw, headers={"content-type": FORM})
    assert request.body["text"] == "payload server down"
    context = request.context
    assert (context.team_id, context.channel_id, context.user_id) == (
        "T0PAYLOAD0",
        "C0PAYLOAD0",
        "U0PAYLOAD0",
    )
    assert context.response_url == "https://hooks.slack.test/payload"
    assert context.is_enterprise_install is False


@settings(FUZZ, max_examples=100)
@given(st.dictionaries(st.text(max_size=12), SHAPED, max_size=5), st.dictionaries(NAMES, TEXT))
def test_a_form_with_a_payload_field_is_that_payload(
    payload: dict[str, Any], others: dict[str, str]
) -> None:
    raw = urlencode({**others, "payload": json.dumps(payload)})
    assert parse_body(raw, FORM) == payload
    request = SlackRequest(body=raw, headers={"content-type": FORM})
    assert request.body == payload and request.to_copyable().body == payload


def test_json_is_read_as_json_and_its_ids_reach_the_context() -> None:
    event = {"type": "event_callback", "team_id": "T1", "event": {"type": "x", "user": "U1"}}
    raw = json.dumps(event)
    request = SlackRequest(body=raw, headers={"content-type": "application/json"})
    assert request.body == event and parse_body(raw, None) == event
    assert (request.context.team_id, request.context.user_id) == ("T1", "U1")
