"""`GET /metrics`: what an operator graphs, in Prometheus' text format, one registry per app."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.app import create_app
from sandbox.slack.records import ALICE, GENERAL
from sandbox.stack import Stack


async def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def total(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    wanted = set(labels.items())
    return sum(value for (n, got), value in samples.items() if n == name and wanted <= got)


async def test_metrics_count_acks_servicenow_and_slack_calls_the_outbox_and_identity(
    stack: Stack,
) -> None:
    before = await scrape(stack.bot_url)
    assert total(before, "incident_bot_slack_ack_seconds_count") == 0
    await stack.slack.send_command(ALICE, "printer on fire")
    [card] = await stack.slack.wait_for(lambda: stack.slack.messages_in(GENERAL))
    await stack.slack.send_command(ALICE, "list")  # a second command: identity from the cache
    # The list's own answer (the first command's ack is an ephemeral too): its lookup is done.
    await stack.slack.wait_for(
        lambda: [e for e in stack.slack.ephemerals_for(ALICE) if "Your open incidents" in e.text]
    )
    after = await scrape(stack.bot_url)

    assert total(after, "incident_bot_slack_ack_seconds_count", kind="command") == 2
    assert (
        total(after, "incident_bot_http_request_seconds_count", route="/slack/events", status="200")
        == 2
    )
    assert (
        total(
            after,
            "incident_bot_servicenow_request_seconds_count",
            table="incident",
            method="POST",
            status="201",
        )
        == 1
    )
    assert (
        total(
            after, "incident_bot_servicenow_request_seconds_count", table="sys_user", method="GET"
        )
        >= 1
    )
    assert (
        total(
            after, "incident_bot_slack_api_seconds_count", method="chat.postMessage", result="200"
        )
        >= 1
    )
    assert total(after, "incident_bot_slack_api_seconds_count", method="users.info") >= 1
    assert total(after, "incident_bot_identity_cache_total", result="miss") == 1
    assert total(after, "incident_bot_identity_cache_total", result="hit") >= 1
    assert ("incident_bot_outbox_depth", frozenset()) in after
    assert ("incident_bot_outbox_oldest_seconds", frozenset()) in after
    assert total(after, "incident_bot_change_events_received_total") == 0
    assert "printer on fire" in card.text


async def test_two_apps_in_one_process_keep_their_own_numbers(stack: Stack) -> None:
    other = create_app(stack.settings)  # a second registry: no clash, nothing shared
    await stack.slack.send_command(ALICE, "help")
    first = await scrape(stack.bot_url)
    second = other.state.bot.metrics.render().decode()
    assert total(first, "incident_bot_slack_ack_seconds_count", kind="command") == 1
    assert 'incident_bot_slack_ack_seconds_count{kind="command"}' not in second
