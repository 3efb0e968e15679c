"""Slack's part of the conversation with the bot: the signed requests it sends, and their acks.

`SignedRequests` builds each request as Slack does (slash commands, block actions, view
submissions, options, Events API envelopes), signs it (slack-notes.md §2) and POSTs it to the URL
the installed app gives, or sends it over the Socket Mode link; then it judges the ack as Slack
would (in time, HTTP 200) and applies it to the workspace (an ephemeral, a view's response_action).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from sandbox.slack import payloads
from sandbox.slack.blockkit import view_problems
from sandbox.slack.installed import InstalledApp
from sandbox.slack.records import Ephemeral, Message, SlackReply, SlackUser, View
from sandbox.slack.socket_mode import SocketMode
from sandbox.slack.workspace import MODAL_STACK_MAX, Workspace

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"
RETRY_REASON = "http_timeout"


class SignedRequests:
    """Requests to the bot from one workspace; see the module docstring."""

    def __init__(self, workspace: Workspace, socket: SocketMode) -> None:
        self.ws = workspace
        self.socket = socket
        self._sent: dict[str, str] = {}  # retry key -> the body first sent, so a retry repeats it
        self._events: dict[str, dict[str, Any]] = {}
        self._http: httpx.AsyncClient | None = None

    def _request_url(self, route: Callable[[InstalledApp], str | None]) -> str:
        """Where Slack sends a request: the installed app's URL for it (NotInManifest when the
        manifest does not declare it), else `bot_url`/slack/events; "" in Socket Mode, where it
        goes over the WebSocket link instead."""
        url = route(self.ws.app) if self.ws.app is not None else None
        if url:
            return url
        if self.socket.enabled:
            return ""
        if not self.ws.bot_url:
            raise RuntimeError("SlackStandIn.bot_url is not set: nowhere to send Slack's requests")
        return self.ws.bot_url.rstrip("/") + "/slack/events"

    def attach_http(self, client: httpx.AsyncClient | None) -> None:
        """Share one HTTP client for requests to the bot (run_slack does this)."""
        self._http = client

    async def send_command(
        self,
        user_id: str,
        text: str,
        *,
        channel_id: str = "C0GENERAL0",
        command: str = "/incident",
        retry_num: int | None = None,
        sign: bool = True,
        timestamp: int | None = None,
        tamper: bool = False,
    ) -> SlackReply:
        """Type `command text` as `user_id` in `channel_id`; records the ack as Slack shows it."""
        user = self.ws.user(user_id)
        channel = self.ws.channel(channel_id)
        url = self._request_url(lambda app: app.command_url(command))
        self.ws.use_scope("commands")
        key = f"command|{user.id}|{channel.id}|{command}|{text}"
        body = self._sent.get(key) if retry_num is not None else None
        if body is None:
            body = payloads.slash_command_form(
                team_id=self.ws.team_id,
                channel=channel,
                user=user,
                command=command,
                text=text,
                response_url=self.ws.issue_response_url(channel.id, user.id),
                trigger_id=self.ws.issue_trigger(user.id),
            )
            self._sent[key] = body
        reply = await self._deliver(
            body, FORM, url, retry_num=retry_num, sign=sign, timestamp=timestamp, tamper=tamper
        )
        honest = sign and not tamper and (timestamp is None or abs(time.time() - timestamp) < 300)
        what = f"{command} {text}".strip()
        if honest or reply.status == 200:
            self._record_ack(reply, channel.id, user.id, what)
        return reply

    async def send_block_action(
        self,
        user_id: str,
        *,
        action_id: str,
        value: str | None = None,
        block_id: str = "",
        message: Message | None = None,
        view: View | None = None,
        selected_option: dict[str, Any] | None = None,
        channel_id: str | None = None,
        retry_num: int | None = None,
    ) -> SlackReply:
        """Click `action_id` on a message, a view, or (channel_id only) the user's latest
        ephemeral in that channel showing it."""
        user = self.ws.user(user_id)
        url = self._request_url(lambda app: app.interaction_url("block_actions"))
        if view is not None:
            where = f"view|{view.id}"
        elif message is not None:
            where = f"message|{message.channel}|{message.ts}"
        elif channel_id is not None:
            where = f"channel|{self.ws.channel(channel_id).id}"
        else:
            raise ValueError("send_block_action needs a message, a view or a channel_id")
        key = f"action|{user.id}|{where}|{action_id}|{value}|{json.dumps(selected_option)}"
        body = self._sent.get(key) if retry_num is not None else None
        if body is None:
            if view is not None:
                payload = self._view_action(user, view, action_id, value, block_id, selected_option)
            else:
                payload = self._message_action(
                    user, message, channel_id, action_id, value, block_id, selected_option
                )
            body = payloads.interaction_form(payload)
            self._sent[key] = body
        reply = await self._deliver(body, FORM, url, retry_num=retry_num)
        self._check_ack(reply, f"block_actions {action_id}")
        return reply

    async def send_message_shortcut(
        self,
        user_id: str,
        message: Message,
        callback_id: str,
        *,
        retry_num: int | None = None,
    ) -> SlackReply:
        """Choose the app's message shortcut `callback_id` in `message`'s "More actions" menu
        (only one the installed manifest declares, as Slack lists only those)."""
        user = self.ws.user(user_id)
        url = self._request_url(lambda app: app.message_shortcut_url(callback_id))
        self.ws.use_scope("commands")
        current = self.ws.find_message(message.channel, message.ts) or message
        channel = self.ws.channel(current.channel)
        key = f"message_action|{user.id}|{channel.id}|{current.ts}|{callback_id}"
        body = self._sent.get(key) if retry_num is not None else None
        if body is None:
            payload = payloads.message_action(
                team_id=self.ws.team_id,
                user=user,
                channel=channel,
                message=current,
                bot=self.ws.bot,
                callback_id=callback_id,
                trigger_id=self.ws.issue_trigger(user.id),
                response_url=self.ws.issue_response_url(channel.id, user.id),
                action_ts=self.ws.next_ts(),
            )
            body = payloads.interaction_form(payload)
            self._sent[key] = body
        reply = await self._deliver(body, FORM, url, retry_num=retry_num)
        self._check_ack(reply, f"message_action {callback_id}")
        return reply

    def _view_action(
        self,
        user: SlackUser,
        view: View,
        action_id: str,
        value: str | None,
        block_id: str,
        selected_option: dict[str, Any] | None,
    ) -> dict[str, Any]:
        current = self.ws.views.get(view.id, view)
        found = payloads.find_element(current.view.get("blocks", []), action_id)
        trigger_id = self.ws.issue_trigger(
            user.id, view_id=current.id if current.type == "modal" else None
        )
        return {
            "type": "block_actions",
            "team": payloads.team(self.ws.team_id),
            "user": payloads.user_ref(user, self.ws.team_id),
            "api_app_id": payloads.API_APP_ID,
            "token": payloads.VERIFICATION_TOKEN,
            "container": {"type": "view", "view_id": current.id},
            "trigger_id": trigger_id,
            "is_enterprise_install": False,
            "enterprise": None,
            "view": payloads.view_object(current, self.ws.team_id, self.ws.bot.bot_id or ""),
            "actions": [
                payloads.action(
                    action_id=action_id,
                    block_id=block_id or (found[0] if found else ""),
                    value=value,
                    selected_option=selected_option,
                    element=found[1] if found else None,
                    action_ts=self.ws.next_ts(),
                )
            ],
        }

    def _message_action(
        self,
        user: SlackUser,
        message: Message | None,
        channel_id: str | None,
        action_id: str,
        value: str | None,
        block_id: str,
        selected_option: dict[str, Any] | None,
    ) -> dict[str, Any]:
        ephemeral: Ephemeral | None = None
        if message is not None:
            current = self.ws.find_message(message.channel, message.ts) or message
            channel = self.ws.channel(current.channel)
            blocks, message_ts = current.blocks, current.ts
        else:
            channel = self.ws.channel(channel_id or "")
            current = None
            for candidate in reversed(self.ws.ephemerals):
                mine = candidate.channel == channel.id and candidate.user == user.id
                if mine and payloads.find_element(candidate.blocks, action_id):
                    ephemeral = candidate
                    break
            blocks = ephemeral.blocks if ephemeral else []
            message_ts = ephemeral.ts if ephemeral else self.ws.next_ts()
        found = payloads.find_element(blocks, action_id)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": payloads.team(self.ws.team_id),
            "user": payloads.user_ref(user, self.ws.team_id),
            "api_app_id": payloads.API_APP_ID,
            "token": payloads.VERIFICATION_TOKEN,
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel.id,
                "is_ephemeral": current is None,
            },
            "trigger_id": self.ws.issue_trigger(user.id),
            "is_enterprise_install": False,
            "enterprise": None,
            "channel": payloads.channel_ref(channel),
        }
        if current is not None:
            payload["message"] = payloads.message_object(current, self.ws.bot)
        payload["state"] = {"values": {}}
        payload["response_url"] = self.ws.issue_response_url(
            channel.id, user.id, message_ts=message_ts, ephemeral=current is None
        )
        payload["actions"] = [
            payloads.action(
                action_id=action_id,
                block_id=block_id or (found[0] if found else ""),
                value=value,
                selected_option=selected_option,
                element=found[1] if found else None,
                action_ts=self.ws.next_ts(),
            )
        ]
        return payload

    async def send_view_submission(
        self, user_id: str, view_id: str, values: dict[str, dict[str, dict[str, Any]]]
    ) -> SlackReply:
        """Press Submit on a modal with these `state.values`; applies the bot's response_action."""
        user = self.ws.user(user_id)
        url = self._request_url(lambda app: app.interaction_url("view_submission"))
        view = self.ws.views.get(view_id)
        if view is None or view.closed:
            raise ValueError(f"no open view {view_id!r}")
        view.state = values
        payload = {
            "type": "view_submission",
            "team": payloads.team(self.ws.team_id),
            "user": payloads.user_ref(user, self.ws.team_id),
            "api_app_id": payloads.API_APP_ID,
            "token": payloads.VERIFICATION_TOKEN,
            "trigger_id": self.ws.issue_trigger(user.id, view_id=view.id),
            # the docs sample carries response_urls inside the view; Bolt reads the top-level one
            "view": {
                **payloads.view_object(view, self.ws.team_id, self.ws.bot.bot_id or ""),
                "response_urls": [],
            },
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        reply = await self._deliver(payloads.interaction_form(payload), FORM, url)
        if self._check_ack(reply, f"view_submission {view.view.get('callback_id', '')}"):
            self._apply_view_answer(view, reply)
        return reply

    def _apply_view_answer(self, view: View, reply: SlackReply) -> None:
        answer = reply.json if isinstance(reply.json, dict) else {}
        action = answer.get("response_action")
        if action is None:
            self.ws.close_view(view)
        elif action == "errors":
            view.errors = dict(answer.get("errors") or {})
            self.ws.changed()
        elif action in ("update", "push"):
            spec = answer.get("view")
            problems = view_problems(spec)
            if problems:
                self.ws.problem(
                    f"response_action={action} with an invalid view: {'; '.join(problems)}"
                )
            elif action == "update":
                self.ws.replace_view(view, cast(dict[str, Any], spec))
            elif len(self.ws.view_stack(view.user)) >= MODAL_STACK_MAX:
                self.ws.problem("response_action=push beyond the 3-view stack limit")
            else:
                self.ws.add_view(view.user, cast(dict[str, Any], spec), previous=view)
        elif action == "clear":
            self.ws.close_view(view, clear=True)
        else:
            self.ws.problem(f"unknown response_action {action!r}")

    async def send_options(
        self, user_id: str, *, action_id: str, block_id: str, value: str, view_id: str | None = None
    ) -> SlackReply:
        """A block_suggestion request (external select typing `value`); the options are in the reply."""
        user = self.ws.user(user_id)
        url = self._request_url(lambda app: app.interaction_url("block_suggestion"))
        payload: dict[str, Any] = {
            "type": "block_suggestion",
            "user": payloads.user_ref(user, self.ws.team_id),
            "api_app_id": payloads.API_APP_ID,
            "token": payloads.VERIFICATION_TOKEN,
            "action_id": action_id,
            "block_id": block_id,
            "value": value,
            "team": payloads.team(self.ws.team_id),
            "enterprise": None,
            "is_enterprise_install": False,
        }
        view = self.ws.views.get(view_id) if view_id else None
        if view is not None:
            payload["container"] = {"type": "view", "view_id": view.id}
            payload["view"] = payloads.view_object(view, self.ws.team_id, self.ws.bot.bot_id or "")
        else:
            payload["container"] = {"type": "message", "channel_id": "C0GENERAL0"}
        reply = await self._deliver(payloads.interaction_form(payload), FORM, url)
        self._check_ack(reply, f"block_suggestion {action_id}")
        return reply

    async def send_event(
        self, event: dict[str, Any], *, retry_num: int | None = None, event_id: str | None = None
    ) -> SlackReply:
        """Deliver an Events API event; a retry (retry_num) repeats the same envelope and event_id."""
        url = self._request_url(lambda app: app.event_url(event))
        scope = InstalledApp.event_scope(event)
        if scope and self.ws.app is not None:
            self.ws.use_scope(scope)  # the event relies on it
        key = json.dumps(event, sort_keys=True)
        envelope = self._events.get(key) if retry_num is not None else None
        if envelope is None:
            inner = dict(event)
            inner.setdefault("event_ts", self.ws.next_ts())
            envelope = payloads.event_envelope(
                inner,
                team_id=self.ws.team_id,
                bot_user_id=self.ws.bot.id,
                event_id=event_id or self.ws.new_id("Ev"),
                event_time=int(time.time()),
            )
            self._events[key] = envelope
        reply = await self._deliver(json.dumps(envelope), JSON, url, retry_num=retry_num)
        self._check_ack(reply, f"event {event.get('type')}")
        return reply

    def app_home_opened(self, user_id: str) -> dict[str, Any]:
        """The app_home_opened event Slack sends when `user_id` opens the Home tab."""
        user = self.ws.user(user_id)
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user.id,
            "channel": self.ws.dm_channel(user.id),
            "event_ts": self.ws.next_ts(),
            "tab": "home",
        }
        home = self.ws.home_view(user.id)
        if home is not None:
            event["view"] = payloads.view_object(home, self.ws.team_id, self.ws.bot.bot_id or "")
        return event

    def user_change(self, user_id: str) -> dict[str, Any]:
        """The user_change event Slack sends when `user_id`'s profile changes (as it is now)."""
        user = self.ws.user(user_id)
        return {
            "type": "user_change",
            "user": payloads.user_object(user, self.ws.team_id),
            "cache_ts": int(time.time()),
            "event_ts": self.ws.next_ts(),
        }

    async def send_signed(
        self, fields: dict[str, str], *, kind: str = "block_actions"
    ) -> SlackReply:
        """Any form, signed as Slack signs it and sent where `kind` goes (`command`: to the
        /incident URL): malformed payloads included, the reply unchecked and unrecorded."""
        if kind == "command":
            url = self._request_url(lambda app: app.command_url("/incident"))
        else:
            url = self._request_url(lambda app: app.interaction_url(kind))
        return await self._deliver(urlencode(fields), FORM, url)

    async def _deliver(
        self,
        body: str,
        content_type: str,
        url: str,
        *,
        retry_num: int | None = None,
        sign: bool = True,
        timestamp: int | None = None,
        tamper: bool = False,
    ) -> SlackReply:
        if self.socket.enabled:  # Socket Mode: an envelope over the WebSocket (nothing to sign)
            return await self.socket.deliver(body, content_type, retry_num=retry_num)
        headers = {"content-type": content_type, "user-agent": USER_AGENT}
        if sign:
            ts = str(timestamp if timestamp is not None else int(time.time()))
            signed = body + "&tampered" if tamper else body
            verifier = SignatureVerifier(self.ws.signing_secret)
            headers["x-slack-request-timestamp"] = ts
            headers["x-slack-signature"] = (
                verifier.generate_signature(timestamp=ts, body=signed) or ""
            )
        if retry_num is not None:
            headers["x-slack-retry-num"] = str(retry_num)
            headers["x-slack-retry-reason"] = RETRY_REASON
        started = time.perf_counter()
        if self._http is not None:
            response = await self._http.post(url, content=body.encode(), headers=headers)
        else:
            async with httpx.AsyncClient(timeout=self.ws.request_timeout) as client:
                response = await client.post(url, content=body.encode(), headers=headers)
        elapsed = time.perf_counter() - started
        text = response.text
        parsed: Any | None = None
        if text.strip().startswith(("{", "[")):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
        return SlackReply(response.status_code, text, parsed, elapsed, dict(response.headers))

    def _check_ack(self, reply: SlackReply, what: str) -> bool:
        """Would Slack accept this ack? Notes a problem (and returns False) when not.

        Requests sent unsigned, tampered or stale on purpose skip this: refusing them is right.
        """
        if reply.status != 200:
            self.ws.problem(f"{what}: the bot answered HTTP {reply.status}")
            return False
        if reply.elapsed > self.ws.ack_deadline:
            self.ws.problem(
                f"{what}: ack took {reply.elapsed:.2f}s; Slack gives up after {self.ws.ack_deadline:.0f}s"
            )
            return False
        return True

    def _record_ack(self, reply: SlackReply, channel: str, user: str, what: str) -> None:
        if not self._check_ack(reply, what) or not reply.body.strip():
            return
        if isinstance(reply.json, dict):
            text = str(reply.json.get("text") or "")
            blocks = reply.json.get("blocks") or []
            in_channel = reply.json.get("response_type") == "in_channel"
        else:
            text, blocks, in_channel = reply.body, [], False
        if not (text or blocks):
            return
        if in_channel:
            self.ws.post_message(channel, text, blocks, source="ack")
        else:
            self.ws.add_ephemeral(channel, user, text, blocks, "ack")
