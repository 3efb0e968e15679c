"""People talking in channels and threads, and the events Slack sends the app about it.

`say` posts a person's message (in a thread with `thread_ts`; also to the channel with
`broadcast`) and delivers what Slack would: a `message` event (when subscribed to the channel's
kind: message.channels / message.groups, and only in channels the bot is a member of, as Slack
does: `invite_bot` is `/invite @incident-bot`), `app_mention` when it mentions the bot, and
`link_shared` for links to the app's unfurl domains. `edit` and `delete` send `message_changed`
and `message_deleted`. Payload shapes follow docs.slack.dev (events/message, message_changed,
message_deleted, link_shared, app_mention); events the installed app does not subscribe to are not
sent, as Slack would not send them.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sandbox.slack.installed import NotInManifest
from sandbox.slack.records import Message, SlackReply
from sandbox.slack.requests import SignedRequests
from sandbox.slack.workspace import Workspace

URL = re.compile(r"(?<![<|])(https?://[^\s<>|]+)")
MENTION = re.compile(r"@incident-bot\b")


@dataclass
class Said:
    """A message a person posted, and Slack's deliveries to the app about it."""

    message: Message
    replies: dict[str, SlackReply] = field(default_factory=dict)  # event type -> the app's reply
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # event type -> the event


def slack_text(text: str, bot_user: str) -> str:
    """What a person types, as Slack stores it: links in <…>, @incident-bot as <@U…>."""
    return MENTION.sub(f"<@{bot_user}>", URL.sub(r"<\1>", text))


def links_in(text: str) -> list[str]:
    return [match.group(1).partition("|")[0] for match in re.finditer(r"<(https?://[^>]+)>", text)]


class Conversation:
    def __init__(self, workspace: Workspace, requests: SignedRequests) -> None:
        self.ws = workspace
        self.requests = requests

    def message_event(self, message: Message, *, broadcast: bool = False) -> dict[str, Any]:
        channel = self.ws.channel(message.channel)
        event: dict[str, Any] = {
            "type": "message",
            "channel": channel.id,
            "user": message.user,
            "text": message.text,
            "ts": message.ts,
            "client_msg_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{channel.id}/{message.ts}")),
            "team": self.ws.team_id,
            "event_ts": message.ts,
            "channel_type": channel.channel_type,
        }
        if broadcast:
            event["subtype"] = "thread_broadcast"
        if message.thread_ts:
            event["thread_ts"] = message.thread_ts
            event["parent_user_id"] = self._parent_user(message)
        return event

    def _parent_user(self, message: Message) -> str:
        parent = self.ws.find_message(message.channel, message.thread_ts or "")
        return parent.user if parent else ""

    def _inner(self, message: Message) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "message",
            "user": message.user,
            "text": message.text,
            "ts": message.ts,
            "team": self.ws.team_id,
        }
        if message.thread_ts:
            body["thread_ts"] = message.thread_ts
        return body

    def invite_bot(self, channel: str) -> None:
        """`/invite @incident-bot`: from now on the app hears the channel's messages."""
        self.ws.bot_channels.add(self.ws.channel(channel).id)
        self.ws.changed()

    async def _send(self, event: dict[str, Any], retry_num: int | None = None) -> SlackReply | None:
        """Deliver an event if the app subscribes to it (Slack sends nothing otherwise), and a
        channel's messages only if the app is a member."""
        member = event.get("channel") in self.ws.bot_channels
        if event["type"] == "message" and event.get("channel_type") != "im" and not member:
            return None
        if self.ws.app is not None:
            try:
                self.ws.app.event_url(event)
            except NotInManifest:
                return None
        return await self.requests.send_event(event, retry_num=retry_num)

    async def say(
        self,
        user: str,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
    ) -> Said:
        """`user` posts `text` in `channel` (a reply in `thread_ts`), and Slack tells the app."""
        stored = slack_text(text, self.ws.bot.id)
        message = self.ws.post_as_user(user, channel, stored, thread_ts=thread_ts)
        said = Said(message)
        event = self.message_event(message, broadcast=broadcast)
        said.events["message"] = event
        reply = await self._send(event)
        if reply is not None:
            said.replies["message"] = reply
        if f"<@{self.ws.bot.id}>" in stored:
            mention = {
                "type": "app_mention",
                "user": message.user,
                "text": message.text,
                "ts": message.ts,
                "channel": event["channel"],
                "event_ts": message.ts,
                "team": self.ws.team_id,
            }
            if message.thread_ts:
                mention["thread_ts"] = message.thread_ts
            said.events["app_mention"] = mention
            reply = await self._send(mention)
            if reply is not None:
                said.replies["app_mention"] = reply
        shared = self.link_shared(message)
        if shared is not None:
            said.events["link_shared"] = shared
            reply = await self._send(shared)
            if reply is not None:
                said.replies["link_shared"] = reply
        return said

    async def resend(self, said: Said, kind: str = "message", retry_num: int = 1) -> SlackReply:
        """Slack delivering the same event again (X-Slack-Retry-Num), as if the first timed out:
        the same envelope and event_id."""
        return await self.requests.send_event(said.events[kind], retry_num=retry_num)

    def link_shared(self, message: Message) -> dict[str, Any] | None:
        """The link_shared event for the message's links to the app's unfurl domains, if any."""
        app = self.ws.app
        links = [
            {"domain": (urlsplit(url).hostname or ""), "url": url}
            for url in links_in(message.text)
            if app is not None and app.unfurls(urlsplit(url).hostname or "")
        ]
        if not links:
            return None
        channel = self.ws.channel(message.channel)
        event: dict[str, Any] = {
            "type": "link_shared",
            "channel": channel.id,
            "is_bot_user_member": channel.id in self.ws.bot_channels,
            "is_unfurl_refresh": False,
            "user": message.user,
            "message_ts": message.ts,
            "unfurl_id": f"{channel.id}.{message.ts.replace('.', '')}.{uuid.uuid4().hex}",
            "source": "conversations_history",
            "links": links,
            "user_locale": "en-US",
            "event_ts": self.ws.next_ts(),
        }
        if message.thread_ts:
            event["thread_ts"] = message.thread_ts
        return event

    async def edit(self, message: Message, text: str) -> SlackReply | None:
        """The author edits their message: message_changed, with the message as it was."""
        before = self._inner(message)
        stored = slack_text(text, self.ws.bot.id)
        snapshot_ts = self.ws.next_ts()
        message.history.append(
            Message(message.channel, message.ts, message.text, list(message.blocks), message.user)
        )
        message.text = stored
        message.edited += 1
        self.ws.changed()
        after = {**self._inner(message), "edited": {"user": message.user, "ts": snapshot_ts}}
        channel = self.ws.channel(message.channel)
        event = {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "channel": channel.id,
            "ts": snapshot_ts,
            "event_ts": snapshot_ts,
            "message": after,
            "previous_message": before,
            "channel_type": channel.channel_type,
        }
        return await self._send(event)

    async def delete(self, message: Message) -> SlackReply | None:
        """The author deletes their message: message_deleted, with the message as it was."""
        before = self._inner(message)
        self.ws.delete_message(message)
        channel = self.ws.channel(message.channel)
        ts = self.ws.next_ts()
        event = {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "channel": channel.id,
            "ts": ts,
            "deleted_ts": message.ts,
            "event_ts": ts,
            "previous_message": before,
            "channel_type": channel.channel_type,
        }
        return await self._send(event)
