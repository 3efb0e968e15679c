"""What `GET /metrics` reports, in Prometheus' text format, from one registry per app.

- `incident_bot_http_request_seconds{route,status}` and `incident_bot_slack_ack_seconds{kind}`
  (command, action, view, options, event): how long each request took to answer;
- `incident_bot_servicenow_request_seconds{table,method,status}`: every ServiceNow call (a
  transport wrapper handed to the client; `status` is the HTTP status or the exception's name);
- `incident_bot_slack_api_seconds{method,result}`: every Slack Web API call, retries and 429s
  included (an aiohttp trace on the bot's one Slack session);
- `incident_bot_outbox_depth`, `incident_bot_outbox_oldest_seconds`, `incident_bot_poll_lag_seconds`:
  read when scraped;
- `incident_bot_change_events_received_total`, `..._acted_on_total`, and
  `incident_bot_identity_cache_total{result=hit|miss}`: counted by the feed and identity.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from urllib.parse import unquote

import aiohttp
import httpx
from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
KINDS = {
    "block_actions": "action",
    "view_submission": "view",
    "view_closed": "view",
    "block_suggestion": "options",
}


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Histogram(
            "incident_bot_http_request_seconds",
            "HTTP requests served",
            ["route", "status"],
            registry=r,
        )
        self.acks = Histogram(
            "incident_bot_slack_ack_seconds",
            "Slack requests acknowledged, by kind",
            ["kind"],
            registry=r,
        )
        self.servicenow = Histogram(
            "incident_bot_servicenow_request_seconds",
            "ServiceNow calls",
            ["table", "method", "status"],
            registry=r,
        )
        self.slack = Histogram(
            "incident_bot_slack_api_seconds",
            "Slack Web API calls",
            ["method", "result"],
            registry=r,
        )
        self.outbox_depth = Gauge(
            "incident_bot_outbox_depth", "Messages waiting in the outbox", registry=r
        )
        self.outbox_oldest = Gauge(
            "incident_bot_outbox_oldest_seconds",
            "Age of the oldest undelivered message",
            registry=r,
        )
        self.poll_lag = Gauge(
            "incident_bot_poll_lag_seconds", "Time since the last successful poll", registry=r
        )

    def count(self, read: Callable[[], Iterable[Metric]]) -> None:
        """Register live counters read from the objects that keep them (the feed, identity)."""
        self.registry.register(_Live(read))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def servicenow_transport(self, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        return _Measured(self.servicenow, inner)

    def slack_trace(self) -> aiohttp.TraceConfig:
        """Every request on the Slack session, by Web API method and HTTP status."""
        trace = aiohttp.TraceConfig()
        histogram = self.slack

        async def start(
            _: aiohttp.ClientSession, context: SimpleNamespace, __: aiohttp.TraceRequestStartParams
        ) -> None:
            context.started = time.perf_counter()

        async def end(
            _: aiohttp.ClientSession,
            context: SimpleNamespace,
            params: aiohttp.TraceRequestEndParams,
        ) -> None:
            histogram.labels(_slack_method(params.url), str(params.response.status)).observe(
                time.perf_counter() - context.started
            )

        async def failed(
            _: aiohttp.ClientSession,
            context: SimpleNamespace,
            params: aiohttp.TraceRequestExceptionParams,
        ) -> None:
            histogram.labels(_slack_method(params.url), type(params.exception).__name__).observe(
                time.perf_counter() - context.started
            )

        trace.on_request_start.append(start)
        trace.on_request_end.append(end)
        trace.on_request_exception.append(failed)
        trace.freeze()
        return trace


def counter(name: str, documentation: str, value: float, **labels: str) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=list(labels))
    family.add_metric(list(labels.values()), value)
    return family


def slack_kind(body: bytes) -> str:
    """What a /slack/events body is: command, action, view, options or event ("other" if none).

    Read as `parse_qs(…, max_num_fields=100)` reads a form (fields without a value do not count),
    but only the field names and the one `payload` are unquoted: parse_qs unquoting every value
    took ~60 µs of each command's ack (#15)."""
    if body.lstrip().startswith(b"{"):
        return "event"
    text = body.decode("utf-8", "replace")
    if text.count("&") >= 100:
        return "other"
    payload = "{}"
    for field in text.split("&"):
        name, _, value = field.partition("=")
        if not value:
            continue
        name = unquote(name.replace("+", " "))
        if name == "command":
            return "command"
        if name == "payload" and payload == "{}":
            payload = unquote(value.replace("+", " "))
    try:
        form = json.loads(payload)
    except ValueError:
        return "other"
    kind = form.get("type") if isinstance(form, dict) else None
    return KINDS.get(kind, "other") if isinstance(kind, str) else "other"


class _Live(Collector):
    def __init__(self, read: Callable[[], Iterable[Metric]]) -> None:
        self._read = read

    def collect(self) -> Iterable[Metric]:
        return self._read()


class _Measured(httpx.AsyncBaseTransport):
    def __init__(self, histogram: Histogram, inner: httpx.AsyncBaseTransport) -> None:
        self._histogram = histogram
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        labels = (_servicenow_table(request.url.path), request.method)
        try:
            response = await self._inner.handle_async_request(request)
        except Exception as exc:
            self._histogram.labels(*labels, type(exc).__name__).observe(
                time.perf_counter() - started
            )
            raise
        self._histogram.labels(*labels, str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def _servicenow_table(path: str) -> str:
    parts = path.strip("/").split("/")
    # /api/now/table/<table>[/<sys_id>] (and /api/now/stats/<table>, /api/now/…)
    return parts[3] if len(parts) > 3 and parts[:2] == ["api", "now"] else "other"


def _slack_method(url: object) -> str:
    path = str(getattr(url, "path", url))
    method = path.rsplit("/", 1)[-1]
    return method if "." in method or method.isalpha() else "other"
