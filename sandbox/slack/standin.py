"""The Slack stand-in: one workspace, and Slack's side of the conversation with the bot.

`SlackStandIn` is a `Workspace` (workspace.py: its state and what it records) that also speaks to the
bot: its `send_*` methods are `SignedRequests`' (requests.py), delivered over HTTP, or over the
Socket Mode link (socket_mode.py) while `socket.enabled`. `create_app` (app.py) serves it over HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence

from sandbox.slack.conversation import Conversation
from sandbox.slack.records import SlackUser
from sandbox.slack.requests import SignedRequests
from sandbox.slack.socket_mode import SocketMode
from sandbox.slack.workspace import Workspace


class SlackStandIn(Workspace):
    def __init__(
        self,
        *,
        signing_secret: str = "sandbox-signing-secret",
        bot_token: str = "xoxb-sandbox-token",
        team_id: str = "T0SANDBOX",
        users: Sequence[SlackUser] | None = None,
        socket_mode: bool = False,
    ) -> None:
        super().__init__(
            signing_secret=signing_secret, bot_token=bot_token, team_id=team_id, users=users
        )
        # Socket Mode: apps.connections.open and the WebSocket link; while enabled, requests go
        # over the link instead of being POSTed.
        self.socket = SocketMode(self)
        self.socket.enabled = socket_mode
        self.requests = SignedRequests(self, self.socket)
        self.attach_http = self.requests.attach_http
        self.send_command = self.requests.send_command
        self.send_block_action = self.requests.send_block_action
        self.send_message_shortcut = self.requests.send_message_shortcut
        self.send_view_submission = self.requests.send_view_submission
        self.send_options = self.requests.send_options
        self.send_signed = self.requests.send_signed
        self.send_event = self.requests.send_event
        self.app_home_opened = self.requests.app_home_opened
        self.user_change = self.requests.user_change
        # People talking: messages, thread replies, edits, deletions (and the events they cause).
        self.conversation = Conversation(self, self.requests)
        self.say = self.conversation.say
        self.edit = self.conversation.edit
        self.delete = self.conversation.delete
        self.invite_bot = self.conversation.invite_bot
