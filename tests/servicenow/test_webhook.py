"""Signed change events: only a fresh event signed with the shared secret is accepted."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from servicenow.webhook import (
    ChangeEvent,
    InvalidEvent,
    InvalidSignature,
    business_rule_instructions,
    business_rule_script,
    sign,
    verify,
)

SECRET = "s3cret-shared-with-servicenow"
NOW = 1_714_641_644
SYS_ID = "ef43c6d40a0a0b5700c77f9bf387afe3"


def body(**overrides: Any) -> bytes:
    event = {
        "table": "incident",
        "sys_id": SYS_ID,
        "sys_mod_count": "7",
        "number": "INC0000050",
        "state": "2",
        "operation": "update",
        "sys_updated_on": "2016-01-22 14:12:37",
    }
    event.update(overrides)
    return json.dumps({k: v for k, v in event.items() if v is not None}).encode()


def signed(raw: bytes, timestamp: int = NOW, secret: str = SECRET) -> tuple[str, str]:
    return str(timestamp), sign(secret, str(timestamp), raw)


def test_signature_matches_an_independent_hmac() -> None:
    # printf '1714641644.{"a":1}' | openssl dgst -sha256 -hmac secret -binary | base64
    assert sign("secret", "1714641644", b'{"a":1}') == (
        "sha256=MFsqRBp21RPMYtFo++2YaUHoynu1/uXkx9b7ic39x0I="
    )


def test_a_genuine_event_is_accepted_and_parsed() -> None:
    raw = body()
    event = verify(SECRET, *signed(raw), raw, now=NOW + 10)
    assert event == ChangeEvent(
        table="incident",
        sys_id=SYS_ID,
        sys_mod_count=7,
        number="INC0000050",
        state="2",
        operation="update",
        sys_updated_on=datetime(2016, 1, 22, 14, 12, 37, tzinfo=UTC),
    )
    assert event.event_id == f"{SYS_ID}:7"


def test_a_changed_body_is_refused() -> None:
    raw = body()
    timestamp, signature = signed(raw)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(SECRET, timestamp, signature, body(state="6"), now=NOW)


def test_another_secret_is_refused() -> None:
    raw = body()
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(SECRET, *signed(raw, secret="guess"), raw, now=NOW)


def test_a_signature_for_another_timestamp_is_refused() -> None:
    raw = body()
    _, signature = signed(raw, timestamp=NOW - 1)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(SECRET, str(NOW), signature, raw, now=NOW)


@pytest.mark.parametrize("skew", [301, -301, 10_000])
def test_stale_or_future_timestamps_are_refused(skew: int) -> None:
    raw = body()
    with pytest.raises(InvalidSignature, match="300 s"):
        verify(SECRET, *signed(raw, timestamp=NOW - skew), raw, now=NOW)


def test_the_tolerance_edge_is_accepted() -> None:
    raw = body()
    assert verify(SECRET, *signed(raw, timestamp=NOW - 300), raw, now=NOW).sys_mod_count == 7


@pytest.mark.parametrize("secret", [None, ""])
def test_without_a_configured_secret_everything_is_refused(secret: str | None) -> None:
    raw = body()
    with pytest.raises(InvalidSignature, match="no webhook secret"):
        verify(secret, *signed(raw, secret=""), raw, now=NOW)


def test_missing_headers_are_refused() -> None:
    raw = body()
    timestamp, signature = signed(raw)
    with pytest.raises(InvalidSignature, match="X-SN-Timestamp"):
        verify(SECRET, None, signature, raw, now=NOW)
    with pytest.raises(InvalidSignature, match="X-SN-Signature"):
        verify(SECRET, timestamp, None, raw, now=NOW)
    with pytest.raises(InvalidSignature, match="Unix seconds"):
        verify(SECRET, "yesterday", signature, raw, now=NOW)


def test_signature_without_prefix_is_refused() -> None:
    raw = body()
    timestamp, signature = signed(raw)
    with pytest.raises(InvalidSignature):
        verify(SECRET, timestamp, signature.removeprefix("sha256="), raw, now=NOW)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (body(sys_mod_count=None), "lacks sys_mod_count"),
        (body(table=None, sys_id=None), "lacks table, sys_id"),
        (body(sys_id="global"), "sys_id"),
        (body(sys_id="EF43C6D40A0A0B5700C77F9BF387AFE3"), "sys_id"),
        (body(sys_mod_count="many"), "sys_mod_count"),
        (body(table="incident; drop"), "table"),
    ],
)
def test_signed_bodies_that_are_not_events_are_invalid(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        verify(SECRET, *signed(raw), raw, now=NOW)


def test_the_design_sample_payload_parses(sample: Any) -> None:
    request = sample("webhook_business_rule_payload.json")["request"]
    raw = json.dumps(request["body"]).encode()
    event = verify(SECRET, *signed(raw), raw, now=NOW)
    assert (event.table, event.sys_mod_count, event.state, event.sys_updated_by) == (
        "incident",
        7,
        "2",
        "admin",
    )


def test_instructions_include_the_script_and_the_setup_steps() -> None:
    text = business_rule_instructions()
    script = business_rule_script()
    assert text.endswith(script)
    for needle in (
        "x_incident_bot.webhook_url",
        "x_incident_bot.webhook_secret",
        "SERVICENOW_WEBHOOK_SECRET",
        "sysapproval_approver",
        "async",
        "/servicenow/events",
        "1.",
        "2.",
        "3.",
    ):
        assert needle in text
    assert "generateMac" in script and "executeAsync" in script
    assert resources.files("servicenow").joinpath("business_rule.js").is_file()


HARNESS = r"""
const crypto = require('crypto');
const fs = require('fs');
const sent = {headers: {}};
const props = JSON.parse(process.argv[3]);
const record = JSON.parse(process.argv[4]);
global.gs = {
  getProperty: (name, fallback) => (name in props ? props[name] : fallback),
  warn: (msg) => { sent.warning = msg; },
};
global.GlideDateTime = function () { this.getNumericValue = () => Number(process.argv[5]) * 1000 + 417; };
global.GlideStringUtil = { base64Encode: (s) => Buffer.from(s, 'utf8').toString('base64') };
// Documented semantics: the key is base64 of the raw key; the MAC comes back in base64.
global.GlideCertificateEncryption = function () {
  this.generateMac = (keyB64, alg, data) => {
    if (alg !== 'HmacSHA256') throw new Error('unexpected algorithm ' + alg);
    return crypto.createHmac('sha256', Buffer.from(keyB64, 'base64')).update(data, 'utf8').digest('base64');
  };
};
global.sn_ws = { RESTMessageV2: function () {
  this.setEndpoint = (u) => { sent.url = u; };
  this.setHttpMethod = (m) => { sent.method = m; };
  this.setRequestHeader = (k, v) => { sent.headers[k] = v; };
  this.setRequestBody = (b) => { sent.body = b; };
  this.setHttpTimeout = () => {};
  this.executeAsync = () => { sent.async = true; };
}};
global.current = {
  isValidField: (n) => n in record.values,
  getValue: (n) => (n in record.values ? record.values[n] : null),
  getTableName: () => record.table,
  getUniqueValue: () => record.values.sys_id,
  operation: () => record.operation,
};
global.previous = null;
eval(fs.readFileSync(process.argv[2], 'utf8'));
process.stdout.write(JSON.stringify(sent));
"""


def run_business_rule(
    tmp_path: Path, props: dict[str, str], table: str, values: dict[str, str], operation: str | None
) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = tmp_path / "business_rule.js"
    script.write_text(business_rule_script())
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS)
    record = {"table": table, "values": values, "operation": operation}
    done = subprocess.run(
        [node, str(harness), str(script), json.dumps(props), json.dumps(record), str(NOW)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


PROPS = {
    "x_incident_bot.webhook_url": "https://bot.example.com/servicenow/events",
    "x_incident_bot.webhook_secret": SECRET,
}


def test_the_business_rule_sends_what_verify_accepts(tmp_path: Path) -> None:
    values = {
        "sys_id": SYS_ID,
        "number": "INC0010001",
        "state": "6",
        "sys_mod_count": "3",
        "sys_updated_on": "2024-05-02 09:15:10",
        "sys_updated_by": "José Müller",
    }
    sent = run_business_rule(tmp_path, PROPS, "incident", values, "update")
    assert sent["url"] == PROPS["x_incident_bot.webhook_url"]
    assert sent["method"] == "post" and sent["async"] is True
    assert sent["headers"]["Content-Type"] == "application/json"
    raw = sent["body"].encode("utf-8")
    assert raw.isascii()
    event = verify(
        SECRET, sent["headers"]["X-SN-Timestamp"], sent["headers"]["X-SN-Signature"], raw, now=NOW
    )
    assert event.model_dump(exclude_none=True) == {
        "table": "incident",
        "sys_id": SYS_ID,
        "sys_mod_count": 3,
        "number": "INC0010001",
        "state": "6",
        "operation": "update",
        "sys_updated_on": datetime(2024, 5, 2, 9, 15, 10, tzinfo=UTC),
        "sys_updated_by": "José Müller",
    }
    assert sent["headers"]["X-SN-Event-Id"] == f"{SYS_ID}:3"


def test_the_business_rule_works_on_approvals_without_a_number(tmp_path: Path) -> None:
    values = {
        "sys_id": SYS_ID,
        "state": "approved",
        "sys_mod_count": "0",
        "sys_updated_on": "2024-05-02 09:20:44",
        "sys_updated_by": "beth.anglin",
    }
    sent = run_business_rule(tmp_path, PROPS, "sysapproval_approver", values, None)
    raw = sent["body"].encode()
    event = verify(
        SECRET, sent["headers"]["X-SN-Timestamp"], sent["headers"]["X-SN-Signature"], raw, now=NOW
    )
    assert (event.table, event.state, event.number, event.operation) == (
        "sysapproval_approver",
        "approved",
        None,
        "insert",
    )


def test_the_business_rule_does_nothing_until_configured(tmp_path: Path) -> None:
    sent = run_business_rule(tmp_path, {}, "incident", {"sys_id": SYS_ID}, "update")
    assert "url" not in sent and "x_incident_bot.webhook_secret" in sent["warning"]
