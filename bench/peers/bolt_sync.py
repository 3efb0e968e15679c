"""The peer: the simplest thing a team would write instead of incident-bot.

A synchronous `slack_bolt.App` under gunicorn (threads) that acks `/incident <text>` and hands the
work to a bounded thread pool: find the caller (users.info, then sys_user by e-mail, remembered in
memory), create the incident in ServiceNow, post its card with chat.postMessage. No database, no
outbox, no retries, no live cards: what it costs is a floor for what the bot costs.

    gunicorn --worker-class gthread --workers 1 --threads 50 --bind 127.0.0.1:4020 \\
        bench.peers.bolt_sync:wsgi

Configured by the bot's variables (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_API_URL,
SERVICENOW_INSTANCE_URL, SERVICENOW_USERNAME, SERVICENOW_PASSWORD) and PEER_IN_FLIGHT, the size of
the thread pool and of its ServiceNow connection pool (the requests in flight to ServiceNow).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

log = logging.getLogger("peer")
IN_FLIGHT = int(os.environ.get("PEER_IN_FLIGHT", "100"))

servicenow = httpx.Client(
    base_url=os.environ["SERVICENOW_INSTANCE_URL"].rstrip("/") + "/api/now/table/",
    auth=(os.environ["SERVICENOW_USERNAME"], os.environ["SERVICENOW_PASSWORD"]),
    headers={"Accept": "application/json"},
    # Idle connections are dropped after 4 s, before the stand-in's server closes them (uvicorn:
    # 5 s): a POST sent on a connection the server is closing is lost, and the peer never retries.
    limits=httpx.Limits(
        max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT, keepalive_expiry=4
    ),
    timeout=30,
)
slack = WebClient(
    token=os.environ["SLACK_BOT_TOKEN"],
    base_url=os.environ.get("SLACK_API_URL", "https://slack.com/api/"),
)
app = App(
    client=slack,
    signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    token_verification_enabled=False,
)
work = ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="incident")
callers: dict[str, str] = {}
callers_lock = threading.Lock()


def caller_of(user_id: str) -> str:
    with callers_lock:
        known = callers.get(user_id)
    if known is not None:
        return known
    email = slack.users_info(user=user_id)["user"]["profile"]["email"]
    found = servicenow.get(
        "sys_user",
        params={"sysparm_query": f"email={email}", "sysparm_fields": "sys_id", "sysparm_limit": 1},
    )
    found.raise_for_status()
    sys_id = str(found.json()["result"][0]["sys_id"])
    with callers_lock:
        callers[user_id] = sys_id
    return sys_id


def open_incident(user_id: str, channel: str, text: str) -> None:
    try:
        created = servicenow.post(
            "incident",
            params={
                "sysparm_fields": "sys_id,number,short_description,state,priority",
                "sysparm_exclude_reference_link": "true",
            },
            json={"short_description": text[:160], "caller_id": caller_of(user_id)},
        )
        created.raise_for_status()
        incident = created.json()["result"]
        title = f"{incident['number']}: {incident['short_description']}"
        slack.chat_postMessage(
            channel=channel,
            text=title,
            blocks=[
                {"type": "section", "text": {"type": "plain_text", "text": title}},
                {
                    "type": "context",
                    "elements": [
                        {
                            "type": "plain_text",
                            "text": f"State {incident['state']} · priority {incident['priority']}",
                        }
                    ],
                },
            ],
        )
    except Exception:
        log.exception("could not open an incident for %s", user_id)


@app.command("/incident")
def incident(ack: Ack, command: dict[str, Any]) -> None:
    text = str(command.get("text", "")).strip()
    ack(f"Opening an incident: {text}…")
    work.submit(open_incident, command["user_id"], command["channel_id"], text)


handler = SlackRequestHandler(app)


def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/healthz":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    answer: Iterable[bytes] = handler(environ, start_response)
    return answer
