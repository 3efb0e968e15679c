"""Type a slash command into the running sandbox and print what the bot answers.

    python -m sandbox.driver [--slack URL] [--user alice] [--channel general] [--wait 10] \\
        "/incident printer on fire"

Sends the command through the Slack stand-in's /sandbox/command endpoint, then polls
/sandbox/messages and /sandbox/ephemerals until the bot has answered and gone quiet (or --wait runs
out), and prints the messages as plain text with Block Kit rendered into lines.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import httpx

DEFAULT_SLACK_URL = "http://127.0.0.1:3001"
POLL_SECONDS = 0.1

# ---- rendering Block Kit as plain text ----------------------------------------------------

LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def plain(text: str) -> str:
    """mrkdwn made readable: links to their labels, mentions to @/#names, entities decoded."""

    def link(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("@"):
            return f"@{label or target[1:]}"
        if target.startswith("#"):
            return f"#{label or target[1:]}"
        if target.startswith("!"):
            return f"@{(label or target[1:]).split('^')[0]}"
        return label or target

    text = LINK.sub(link, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def text_of(obj: Any) -> str:
    if isinstance(obj, dict):
        return plain(str(obj.get("text", "")))
    return "" if obj is None else plain(str(obj))


def field_line(field: Any) -> str:
    """`*State*\\nNew` reads as `State: New`."""
    text = text_of(field)
    label, sep, rest = text.partition("\n")
    if sep and label.startswith("*") and label.endswith("*") and len(label) > 2:
        return f"{label[1:-1]}: {rest.replace(chr(10), ' ')}"
    return text.replace("\n", " ")


def element_text(element: Any) -> str:
    if not isinstance(element, dict):
        return ""
    kind = str(element.get("type", ""))
    label = text_of(element.get("text")) or text_of(element.get("placeholder"))
    if kind == "button":
        return f"[button: {label}]"
    if kind in ("mrkdwn", "plain_text"):
        return text_of(element)
    if kind == "image":
        return f"[image: {element.get('alt_text', '')}]"
    if kind == "overflow":
        options = " | ".join(text_of(o.get("text")) for o in element.get("options", []))
        return f"[menu: {options}]"
    if kind.endswith("select"):
        chosen = element.get("initial_option")
        shown = text_of(chosen.get("text")) if isinstance(chosen, dict) else label
        return f"[{kind.replace('_', ' ')}: {shown}]"
    if kind == "datepicker":
        return f"[date: {element.get('initial_date') or label}]"
    if kind == "plain_text_input":
        return f"[text input{': ' + label if label else ''}]"
    return f"[{kind}{': ' + label if label else ''}]"


def rich_text(element: Any) -> str:
    if isinstance(element, dict):
        if "elements" in element:
            return "".join(rich_text(e) for e in element["elements"])
        if element.get("type") == "user":
            return f"@{element.get('user_id', '')}"
        if element.get("type") == "link":
            return str(element.get("text") or element.get("url", ""))
        return str(element.get("text", ""))
    return ""


def render_blocks(blocks: Sequence[Any]) -> list[str]:
    lines: list[str] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "section":
            if block.get("text"):
                lines += text_of(block["text"]).splitlines()
            lines += [f"  {field_line(f)}" for f in block.get("fields", [])]
            if block.get("accessory"):
                lines.append(element_text(block["accessory"]))
        elif kind == "header":
            lines.append(f"== {text_of(block.get('text'))} ==")
        elif kind == "divider":
            lines.append("-" * 40)
        elif kind in ("context", "actions"):
            lines.append("  ".join(element_text(e) for e in block.get("elements", [])))
        elif kind == "image":
            lines.append(f"[image: {block.get('alt_text', '')}]")
        elif kind == "input":
            lines.append(f"{text_of(block.get('label'))}: {element_text(block.get('element'))}")
        elif kind == "rich_text":
            lines += rich_text(block).splitlines()
        elif kind == "markdown":
            lines += plain(str(block.get("text", ""))).splitlines()
        else:
            lines.append(f"[{kind} block]")
    return lines


def render_message(text: str, blocks: Sequence[Any] | None = None) -> str:
    """A message as plain lines: the blocks when there are any, else the text."""
    if blocks:
        return "\n".join(render_blocks(blocks))
    return plain(text)


# ---- talking to the sandbox ---------------------------------------------------------------


class DriverError(Exception):
    """Ends the driver with exit status 1 and this one-line message."""


@dataclass(frozen=True)
class Target:
    user_id: str
    user_name: str
    dm_channel: str
    channel_id: str
    channel_names: dict[str, str]


def split_command(words: Sequence[str]) -> tuple[str, str]:
    """'/incident printer on fire' -> ('/incident', 'printer on fire'); no slash -> /incident."""
    line = " ".join(words).strip()
    if line.startswith("/"):
        command, _, text = line.partition(" ")
        return command, text.strip()
    return "/incident", line


async def get_json(client: httpx.AsyncClient, path: str, **params: str) -> Any:
    response = await client.get(path, params=params)
    response.raise_for_status()
    return response.json()


async def resolve(client: httpx.AsyncClient, user: str, channel: str) -> Target:
    users = await get_json(client, "/sandbox/users")
    channels = await get_json(client, "/sandbox/channels")
    wanted = user.removeprefix("@")
    found = next((u for u in users if wanted in (u["id"], u["name"])), None)
    if found is None:
        known = ", ".join(u["name"] for u in users if not u["is_bot"])
        raise DriverError(f"no Slack user {user!r} in the sandbox (known: {known})")
    names = {c["id"]: ("#" + c["name"] if not c["is_im"] else "DM") for c in channels}
    wanted_channel = channel.removeprefix("#")
    match = next((c for c in channels if wanted_channel in (c["id"], c["name"])), None)
    if match is None and wanted_channel == found["dm_channel"]:
        match = {"id": wanted_channel}
    if match is None:
        raise DriverError(f"no channel {channel!r} in the sandbox")
    names[found["dm_channel"]] = f"DM with {found['name']}"
    return Target(found["id"], found["name"], found["dm_channel"], match["id"], names)


async def snapshot(client: httpx.AsyncClient, target: Target) -> dict[str, dict[str, Any]]:
    """Everything the user can see now, keyed so edits count as changes."""
    seen: dict[str, dict[str, Any]] = {}
    for channel in dict.fromkeys([target.channel_id, target.dm_channel]):
        for message in await get_json(client, "/sandbox/messages", channel=channel):
            seen[f"m|{message['channel']}|{message['ts']}"] = message
    for ephemeral in await get_json(client, "/sandbox/ephemerals", user=target.user_id):
        seen[f"e|{ephemeral['channel']}|{ephemeral['ts']}|{ephemeral['source']}"] = ephemeral
    return seen


def changes(before: dict[str, dict[str, Any]], now: dict[str, dict[str, Any]]) -> list[str]:
    return [key for key, item in now.items() if before.get(key) != item]


def render_item(key: str, item: dict[str, Any], target: Target) -> str:
    where = target.channel_names.get(item["channel"], item["channel"])
    if key.startswith("e|"):
        source = {"ack": "reply", "response_url": "response", "api": "ephemeral"}[item["source"]]
        head = f"{where} · only visible to {target.user_name} ({source})"
    else:
        edited = f" · edited {item['edited']}x" if item.get("edited") else ""
        thread = " · in thread" if item.get("thread_ts") else ""
        head = f"{where} · {'incident-bot' if item['source'] != 'user' else item['user']}{edited}{thread}"
    body = render_message(str(item.get("text", "")), item.get("blocks") or [])
    return f"── {head}\n{body}"


async def run(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = parse_args(argv)
    command, text = split_command(args.command)
    loop = asyncio.get_running_loop()
    try:
        async with httpx.AsyncClient(base_url=args.slack, timeout=args.wait + 5) as client:
            target = await resolve(client, args.user, args.channel)
            before = await snapshot(client, target)
            deadline = loop.time() + args.wait
            response = await client.post(
                "/sandbox/command",
                json={
                    "user": target.user_id,
                    "text": text,
                    "channel": target.channel_id,
                    "command": command,
                },
            )
            answer = response.json()
            if response.status_code != 200:
                raise DriverError(str(answer.get("error", f"HTTP {response.status_code}")))
            if answer["status"] != 200:
                raise DriverError(
                    f"the bot refused {command}: HTTP {answer['status']} {answer['body']}"
                )
            current = before
            last_change: float | None = None
            while True:
                latest = await snapshot(client, target)
                if latest != current:
                    current, last_change = latest, loop.time()
                now = loop.time()
                if now >= deadline or (
                    last_change is not None and now - last_change >= args.settle
                ):
                    break
                await asyncio.sleep(POLL_SECONDS)
    except httpx.TransportError:
        print(
            f"error: the sandbox Slack is not running at {args.slack} (start it with `make sandbox`)",
            file=sys.stderr,
        )
        return 1
    except DriverError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    new = changes(before, current)
    if not new:
        print(f"error: the bot did not answer {command} within {args.wait:g}s", file=sys.stderr)
        return 1
    items = sorted(new, key=lambda key: current[key]["ts"])
    print("\n\n".join(render_item(key, current[key], target) for key in items), file=out)
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.driver", description="Send a slash command into the sandbox."
    )
    parser.add_argument("--slack", default=DEFAULT_SLACK_URL, help="the Slack stand-in's URL")
    parser.add_argument("--user", default="alice", help="who types it (name or id)")
    parser.add_argument("--channel", default="general", help="where (name or id)")
    parser.add_argument("--wait", type=float, default=10.0, help="seconds to wait for an answer")
    parser.add_argument(
        "--settle", type=float, default=1.5, help="stop once nothing changed for this long"
    )
    parser.add_argument("command", nargs="+", help='e.g. "/incident printer on fire"')
    return parser.parse_args(argv)


def main() -> None:
    sys.exit(asyncio.run(run()))


if __name__ == "__main__":
    main()
