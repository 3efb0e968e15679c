"""The Slack stand-in's workspace: its state and what it records.

One `Workspace` is users, channels, the installed app, the bot's messages and views, triggers,
response_urls and every Web API call. The Web API (webapi.py) changes it; `SignedRequests`
(requests.py) plays Slack's part of the conversation with the bot; `SlackStandIn` (standin.py)
puts the two together.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any, TypeVar, cast

from sandbox.slack.blockkit import markup_problems, message_problems, view_markup_problems
from sandbox.slack.installed import InstalledApp
from sandbox.slack.records import (
    BOT_USER,
    DEFAULT_CHANNELS,
    DEFAULT_USERS,
    ApiCall,
    ApiError,
    ApiFault,
    Block,
    Channel,
    Ephemeral,
    EphemeralSource,
    Message,
    MessageSource,
    ResponseUrl,
    SlackUser,
    Trigger,
    View,
)

T = TypeVar("T")

MODAL_STACK_MAX = 3  # views a user can have stacked (views.push, response_action=push)


class Workspace:
    """A fake Slack workspace; see the module docstring."""

    def __init__(
        self,
        *,
        signing_secret: str = "sandbox-signing-secret",
        bot_token: str = "xoxb-sandbox-token",
        team_id: str = "T0SANDBOX",
        users: Sequence[SlackUser] | None = None,
    ) -> None:
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        self.team_id = team_id
        self.bot: SlackUser = replace(BOT_USER)
        seeded = [replace(u) for u in (DEFAULT_USERS if users is None else users)]
        self.users: dict[str, SlackUser] = {u.id: u for u in [*seeded, self.bot]}
        self.channels: dict[str, Channel] = {c.id: c for c in DEFAULT_CHANNELS}
        self.bot_channels: set[str] = set()  # channels the bot was invited to (none at first)
        # Who is in each channel (the bot: `bot_channels`); every person is in the default ones.
        humans = {u.id for u in seeded if not u.is_bot}
        self.members: dict[str, set[str]] = {c.id: set(humans) for c in DEFAULT_CHANNELS}

        # The installed app (install_app); None lets every request and Web API call through.
        self.app: InstalledApp | None = None
        self.scopes_used: set[str] = set()  # granted scopes something really relied on
        self.relied_on: list[str] = []  # the same, for the Web API call being answered

        self.url: str = ""
        self.bot_url: str | None = None
        self.calls: list[ApiCall] = []
        # Web API calls being answered now, and the most at once, per method.
        self.in_flight: collections.Counter[str] = collections.Counter()
        self.peak_in_flight: collections.Counter[str] = collections.Counter()
        self.messages: dict[str, list[Message]] = {}
        self.deleted: list[Message] = []
        self.composer_unfurls: dict[str, dict[str, Any]] = {}  # unfurl_id -> url -> unfurl
        self.ephemerals: list[Ephemeral] = []
        self.views: dict[str, View] = {}
        self.faults: list[ApiFault] = []
        self.problems: list[str] = []  # things real Slack would have refused or ignored
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.response_url_posts: list[
            str
        ] = []  # every POST to a response_url (its id), issued or not

        # Slack's clocks and limits; tests may move `clock` forward instead of sleeping.
        self.clock: Callable[[], float] = time.monotonic
        self.trigger_ttl = 3.0
        self.ack_deadline = 3.0
        self.response_url_ttl = 30 * 60.0
        self.response_url_uses = 5
        self.request_timeout = 10.0

        self._stacks: dict[str, list[str]] = {}  # user id -> open modal view ids, root first
        self._homes: dict[str, str] = {}  # user id -> Home tab view id
        self._ids = itertools.count(1)
        self._last_ts_us = 0
        self._waiters: list[asyncio.Future[None]] = []
        self.listeners: list[Callable[[], None]] = []  # called on every change (the browser UI)

    # ---- the installed app ------------------------------------------------------------------

    def install_app(self, manifest: dict[str, Any]) -> InstalledApp:
        """Install the app from its manifest: from now on Slack sends only what it declares, to
        the URLs it gives, and Web API calls get only the scopes it asks for."""
        self.app = InstalledApp.from_manifest(manifest)
        return self.app

    def use_scope(self, scope: str) -> bool:
        """Whether the bot token has `scope` (always, with no app installed); notes the use."""
        if self.app is not None and scope not in self.app.scopes:
            return False
        self.relied_on.append(scope)
        self.scopes_used.add(scope)
        return True

    # ---- lookups ---------------------------------------------------------------------------

    def user(self, ref: str) -> SlackUser:
        """A user by id, name or @name."""
        key = ref.removeprefix("@")
        if key in self.users:
            return self.users[key]
        for user in self.users.values():
            if user.name == key:
                return user
        raise KeyError(
            f"no Slack user {ref!r} (known: {', '.join(u.name for u in self.users.values())})"
        )

    def dm_channel(self, user_id: str) -> str:
        """The D… id conversations.open gives for `user_id` (stable per user)."""
        user = self.user(user_id)
        return "D" + user.id[1:]

    def channel(self, ref: str) -> Channel:
        """A channel by id, name or #name; D… ids of known users are their DMs."""
        key = ref.removeprefix("#")
        if key in self.channels:
            return self.channels[key]
        for channel in self.channels.values():
            if channel.name == key and not channel.is_im:
                return channel
        if key.startswith("D"):
            for user in self.users.values():
                if not user.is_bot and "D" + user.id[1:] == key:
                    return self.open_dm(user.id)
        raise KeyError(f"no Slack channel {ref!r}")

    def add_channel(
        self, channel_id: str, name: str, *, private: bool = False, members: Sequence[str] = ()
    ) -> Channel:
        """A new channel with these members (Slack user ids); the bot is invited separately."""
        channel = Channel(channel_id, name, is_private=private)
        self.channels[channel_id] = channel
        self.members[channel_id] = {self.user(m).id for m in members}
        self.changed()
        return channel

    def open_dm(self, user_id: str) -> Channel:
        user = self.user(user_id)
        channel_id = self.dm_channel(user.id)
        channel = self.channels.get(channel_id)
        if channel is None:
            channel = Channel(channel_id, user.name, is_im=True, user=user.id)
            self.channels[channel_id] = channel
        return channel

    def messages_in(self, channel: str) -> list[Message]:
        try:
            channel = self.channel(channel).id
        except KeyError:
            return []
        return list(self.messages.get(channel, []))

    def find_message(self, channel: str, ts: str) -> Message | None:
        for message in self.messages.get(channel, []):
            if message.ts == ts:
                return message
        return None

    def calls_to(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method]

    def ephemerals_for(self, user_id: str) -> list[Ephemeral]:
        return [e for e in self.ephemerals if e.user == user_id]

    def view_stack(self, user_id: str) -> list[View]:
        """The user's open modals, root first."""
        return [self.views[v] for v in self._stacks.get(user_id, [])]

    def current_modal(self, user_id: str) -> View | None:
        stack = self._stacks.get(user_id)
        return self.views[stack[-1]] if stack else None

    def home_view(self, user_id: str) -> View | None:
        view_id = self._homes.get(user_id)
        return self.views[view_id] if view_id else None

    # ---- ids and clocks --------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):010d}"

    def next_ts(self) -> str:
        """A message ts ("seconds.micros"), strictly increasing."""
        now_us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
        self._last_ts_us = now_us
        return f"{now_us // 1_000_000}.{now_us % 1_000_000:06d}"

    @staticmethod
    def new_hash() -> str:
        return f"{int(time.time())}.{secrets.token_hex(4)}"

    # ---- recording (every change wakes wait_for) --------------------------------------------

    def changed(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        for listener in self.listeners:
            listener()

    @contextlib.contextmanager
    def answering(self, method: str) -> Iterator[None]:
        """Count a call to `method` in flight while it is answered."""
        self.in_flight[method] += 1
        self.peak_in_flight[method] = max(self.peak_in_flight[method], self.in_flight[method])
        try:
            yield
        finally:
            self.in_flight[method] -= 1

    async def hold(self, fault: ApiFault) -> None:
        """Wait out a fault's `delay`; with `together`, only until that many calls met it."""
        if not fault.together:
            await asyncio.sleep(fault.delay)
            return
        fault.arrived += 1
        self.changed()
        with contextlib.suppress(TimeoutError):
            await self.wait_for(lambda: fault.arrived >= fault.together, timeout=fault.delay)

    def record_call(self, call: ApiCall) -> None:
        self.calls.append(call)
        self.changed()

    def problem(self, text: str) -> None:
        self.problems.append(text)
        self.changed()

    def check_markup(self, what: str, text: Any, blocks: Any) -> None:
        """Notes, as a problem, any control sequence in what the bot sends that it never means
        to send (a broadcast, a raw `<placeholder>`, a mention or link from a ServiceNow field)."""
        for found in markup_problems(text, blocks):
            self.problem(f"{what}: {found}")

    def check_view_markup(self, what: str, spec: Any) -> None:
        for found in view_markup_problems(spec):
            self.problem(f"{what}: {found}")

    def post_message(
        self,
        channel: str,
        text: str,
        blocks: list[Block] | None = None,
        *,
        user: str | None = None,
        thread_ts: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
        source: MessageSource = "api",
    ) -> Message:
        if source != "user":
            self.check_markup(f"message ({source}) in {channel}", text, blocks)
        message = Message(
            channel=channel,
            ts=self.next_ts(),
            text=text,
            blocks=list(blocks or []),
            user=user or self.bot.id,
            thread_ts=thread_ts,
            attachments=list(attachments or []),
            source=source,
        )
        self.messages.setdefault(channel, []).append(message)
        self.changed()
        return message

    def post_as_user(
        self, user_id: str, channel: str, text: str, *, thread_ts: str | None = None
    ) -> Message:
        """A message a person wrote (the bot may not chat.update it); `thread_ts`: a reply."""
        user = self.user(user_id)
        return self.post_message(
            self.channel(channel).id, text, user=user.id, source="user", thread_ts=thread_ts
        )

    def thread(self, channel: str, ts: str) -> list[Message]:
        """A thread as conversations.replies lists it: the parent, then its replies in order."""
        return [
            m for m in self.messages_in(self.channel(channel).id) if m.ts == ts or m.thread_ts == ts
        ]

    def update_message(
        self,
        message: Message,
        *,
        text: str,
        blocks: list[Block],
        attachments: list[dict[str, Any]] | None = None,
    ) -> Message:
        self.check_markup(f"update of {message.channel}/{message.ts}", text, blocks)
        snapshot = replace(message, history=[], blocks=list(message.blocks))
        message.history.append(snapshot)
        message.text = text
        message.blocks = list(blocks)
        if attachments is not None:
            message.attachments = list(attachments)
        message.edited += 1
        self.changed()
        return message

    def delete_message(self, message: Message) -> None:
        kept = self.messages.get(message.channel, [])
        self.messages[message.channel] = [m for m in kept if m.ts != message.ts]
        self.deleted.append(message)
        self.changed()

    def add_ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        blocks: list[Block] | None,
        source: EphemeralSource,
        *,
        ts: str | None = None,
    ) -> Ephemeral:
        self.check_markup(f"ephemeral ({source}) in {channel}", text, blocks)
        ephemeral = Ephemeral(channel, user, text, list(blocks or []), source, ts or self.next_ts())
        self.ephemerals.append(ephemeral)
        self.changed()
        return ephemeral

    # ---- triggers, views, response_urls -----------------------------------------------------

    def issue_trigger(self, user_id: str, *, view_id: str | None = None) -> str:
        trigger_id = f"{int(time.time())}.{next(self._ids)}.{secrets.token_hex(16)}"
        self.triggers[trigger_id] = Trigger(trigger_id, user_id, self.clock(), view_id)
        return trigger_id

    def take_trigger(self, trigger_id: str | None) -> Trigger:
        """Use a trigger_id once, within `trigger_ttl` seconds, as views.open/push must."""
        trigger = self.triggers.get(trigger_id or "")
        if trigger is None:
            raise ApiError("invalid_trigger_id")
        if trigger.used:
            raise ApiError("exchanged_trigger_id")
        if self.clock() - trigger.issued_at > self.trigger_ttl:
            raise ApiError("expired_trigger_id")
        trigger.used = True
        return trigger

    def add_view(self, user_id: str, spec: dict[str, Any], *, previous: View | None = None) -> View:
        self.check_view_markup(f"view for {user_id}", spec)
        view_id = self.new_id("V")
        view = View(
            id=view_id,
            type=str(spec.get("type", "modal")),
            user=user_id,
            view=spec,
            hash=self.new_hash(),
            external_id=str(spec.get("external_id", "")),
            root_view_id=previous.root_view_id if previous else view_id,
            previous_view_id=previous.id if previous else None,
        )
        self.views[view_id] = view
        if view.type == "home":
            self._homes[user_id] = view_id
        elif previous is None:
            for old in self.view_stack(user_id):
                old.closed = True
            self._stacks[user_id] = [view_id]
        else:
            self._stacks.setdefault(user_id, []).append(view_id)
        self.changed()
        return view

    def replace_view(self, view: View, spec: dict[str, Any]) -> View:
        self.check_view_markup(f"view {view.id}", spec)
        view.history.append(view.view)
        view.view = spec
        view.hash = self.new_hash()
        view.errors = None
        if spec.get("external_id"):
            view.external_id = str(spec["external_id"])
        self.changed()
        return view

    def close_view(self, view: View, *, clear: bool = False) -> None:
        """Close one modal (and whatever was pushed on top of it), or the whole stack."""
        stack = self._stacks.get(view.user, [])
        keep = [] if clear or view.id not in stack else stack[: stack.index(view.id)]
        for view_id in stack:
            if view_id not in keep:
                self.views[view_id].closed = True
        self._stacks[view.user] = keep
        view.closed = True
        self.changed()

    def view_by_external_id(self, external_id: str) -> View | None:
        for view in self.views.values():
            if view.external_id == external_id and not view.closed:
                return view
        return None

    def issue_response_url(
        self, channel: str, user: str, *, message_ts: str | None = None, ephemeral: bool = False
    ) -> str:
        hook_id = f"{next(self._ids)}-{secrets.token_urlsafe(12)}"
        self.response_urls[hook_id] = ResponseUrl(
            hook_id, channel, user, self.clock(), message_ts, ephemeral
        )
        return f"{self.url}/response/{hook_id}"

    def respond(self, hook_id: str, body: Any) -> tuple[int, dict[str, Any]]:
        """Apply a POST to a response_url as Slack does; (HTTP status, JSON answer)."""
        self.response_url_posts.append(hook_id)
        hook = self.response_urls.get(hook_id)
        if hook is None:
            return 404, {"ok": False, "error": "no_service"}
        age = self.clock() - hook.issued_at
        if hook.uses >= self.response_url_uses or age > self.response_url_ttl:
            self.problem(
                f"response_url used after it expired (use {hook.uses + 1}, {age:.0f}s old; "
                f"Slack allows {self.response_url_uses} uses in {self.response_url_ttl:.0f}s)"
            )
            return 404, {"ok": False, "error": "expired_url"}
        if not isinstance(body, dict):
            return 400, {"ok": False, "error": "invalid_payload"}
        text = str(body.get("text") or "")
        blocks = body.get("blocks") or []
        if message_problems(blocks):
            return 400, {"ok": False, "error": "invalid_blocks"}
        deleting = bool(body.get("delete_original"))
        if not (text or blocks or deleting):
            return 400, {"ok": False, "error": "no_text"}
        hook.uses += 1
        original = self.find_message(hook.channel, hook.message_ts) if hook.message_ts else None
        if deleting:
            if original is not None:
                self.delete_message(original)
            return 200, {"ok": True}
        if body.get("replace_original") and hook.message_ts:
            if hook.ephemeral:
                self.add_ephemeral(
                    hook.channel, hook.user, text, blocks, "response_url", ts=hook.message_ts
                )
                return 200, {"ok": True}
            if original is not None:
                self.update_message(original, text=text, blocks=blocks)
                return 200, {"ok": True}
        if body.get("response_type") == "in_channel":
            thread_ts = body.get("thread_ts")
            self.post_message(
                hook.channel,
                text,
                blocks,
                thread_ts=str(thread_ts) if thread_ts else None,
                source="response_url",
            )
        else:
            self.add_ephemeral(hook.channel, hook.user, text, blocks, "response_url")
        return 200, {"ok": True}

    # ---- waiting ---------------------------------------------------------------------------

    async def wait_for(
        self,
        predicate: Callable[[], T | bool | None],
        timeout: float = 10.0,
    ) -> T:
        """Re-check `predicate` whenever something is recorded; return its first truthy value.
        The default timeout only matters when the condition never comes: it is generous because
        the suite runs four workers on two cores (5 s timed out twice under load)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return cast(T, result)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(self.describe(f"wait_for: condition not met within {timeout}s"))
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            await asyncio.wait({waiter}, timeout=remaining)
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def describe(self, headline: str, last: int = 12) -> str:
        """A summary of recent activity, for failure messages."""
        lines = [headline]
        recent = self.calls[-last:]
        lines.append(f"last {len(recent)} of {len(self.calls)} Web API calls:")
        for call in recent:
            outcome = f" -> {call.error}" if call.error else ""
            args = ", ".join(f"{k}={_short(v)}" for k, v in call.args.items())
            lines.append(f"  {call.method}({args}){outcome}")
        for channel, messages in self.messages.items():
            lines.append(f"{channel}: {len(messages)} message(s)")
            for message in messages[-3:]:
                lines.append(f"  {message.ts} {_short(message.text)} (edited {message.edited})")
        lines.append(f"ephemerals: {len(self.ephemerals)}")
        for ephemeral in self.ephemerals[-3:]:
            lines.append(f"  to {ephemeral.user} [{ephemeral.source}] {_short(ephemeral.text)}")
        if self.problems:
            lines.append("problems: " + "; ".join(self.problems[-5:]))
        return "\n".join(lines)


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
