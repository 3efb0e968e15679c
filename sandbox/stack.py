"""The whole product on loopback: the ServiceNow emulator, the Slack stand-in and the bot, wired."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette

from bot import manifest
from bot.app import Bot, ServiceNowTiming, SocketMode, create_app
from bot.settings import Mode, Settings, load_settings
from sandbox.server import bind, serve
from sandbox.servicenow import Emulator, WebhookTarget, run_emulator
from sandbox.slack import SlackStandIn, run_slack

SIGNING_SECRET = "sandbox-signing-secret"
BOT_TOKEN = "xoxb-sandbox-token"
APP_TOKEN = "xapp-1-A0SANDBOX0-1-sandbox"
SERVICENOW_USER = "incident.bot"
SERVICENOW_PASSWORD = "incident-bot"
WEBHOOK_SECRET = "sandbox-webhook-secret"
# The sandbox's own token encryption key (account linking): never use it anywhere else.
ENCRYPTION_KEY = "c2FuZGJveC1vbmx5LWtleS1mb3ItbGlua2VkLXRva2U="


@dataclass
class Stack:
    emulator: Emulator
    slack: SlackStandIn
    settings: Settings
    app: Starlette
    bot_url: str

    @property
    def bot(self) -> Bot:
        bot: Bot = self.app.state.bot
        return bot


@asynccontextmanager
async def run_stack(
    *,
    database_url: str,
    host: str = "127.0.0.1",
    bot_port: int = 0,
    slack_port: int = 0,
    servicenow_port: int = 0,
    emulator: Emulator | None = None,
    slack: SlackStandIn | None = None,
    socket_mode: bool = False,
    ping_interval: float = 10.0,
    timing: ServiceNowTiming | None = None,
    linked: bool = False,
    handoff_secret: str | None = None,
    **settings: Any,
) -> AsyncIterator[Stack]:
    """Start the stand-ins, then the bot configured against them; stop all three on exit.

    `socket_mode`: the bot runs as `incident-bot socket` does, taking Slack's requests over a
    Socket Mode link (its HTTP server keeps /healthz and /servicenow/events), and the stand-in
    delivers over that link. `ping_interval` is how soon the bot notices a dropped link.
    `timing`: the bot's ServiceNow timeout and write horizon (scaled down by tests).
    `linked`: account linking (SERVICENOW_LINKING) with the emulator's OAuth client, the sandbox's
    encryption key (unless `token_encryption_keys` is given) and the bot's own address as
    PUBLIC_URL: people connect their ServiceNow accounts (`tests/support.py: link`).
    `handoff_secret`: the bot is `serve`'s worker behind a front (bot/front.py) knowing it.
    """
    # DMs of a burst fold within half a second here (3 s by default): quick to watch and test.
    settings.setdefault("dm_fold_seconds", 0.5)
    emulator = emulator or Emulator()

    slack = slack or SlackStandIn(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
    slack.socket.enabled = socket_mode
    slack.socket.app_token = APP_TOKEN
    async with (
        run_emulator(emulator, host=host, port=servicenow_port) as emu,
        run_slack(slack, host=host, port=slack_port) as standin,
    ):
        sock = bind(host, bot_port)
        if linked:
            from sandbox.servicenow import seed

            settings.setdefault("servicenow_linking", True)
            settings.setdefault("token_encryption_keys", ENCRYPTION_KEY)
            settings.setdefault("public_url", f"http://{host}:{sock.getsockname()[1]}")
            settings.setdefault("servicenow_client_id", seed.OAUTH_CLIENT_ID)
            settings.setdefault("servicenow_client_secret", seed.OAUTH_CLIENT_SECRET)
        slack_auth = (
            {"slack_app_token": APP_TOKEN}
            if socket_mode
            else {"slack_signing_secret": SIGNING_SECRET}
        )
        config = _settings(
            sock,
            "socket" if socket_mode else "serve",
            slack_bot_token=BOT_TOKEN,
            slack_api_url=f"{standin.url}/api/",
            servicenow_instance_url=emu.instance_url,
            servicenow_username=SERVICENOW_USER,
            servicenow_password=SERVICENOW_PASSWORD,
            database_url=database_url,
            host=host,
            port=bot_port or 3000,
            **slack_auth,
            **settings,
        )
        link = SocketMode(APP_TOKEN, ping_interval=ping_interval) if socket_mode else None
        try:
            app = create_app(
                config,
                socket_mode=link,
                timing=timing or ServiceNowTiming(),
                handoff_secret=handoff_secret,
            )
        except BaseException:
            sock.close()
            raise
        async with serve(app, host=host, sock=sock) as bot:
            standin.bot_url = bot.url
            # Installed from the manifest the bot generates, as a real workspace would install it:
            # Slack sends only what it declares and grants only the scopes it asks for.
            standin.install_app(manifest.build(None if socket_mode else bot.url, emu.instance_url))
            if config.servicenow_webhook_secret:
                # ServiceNow's Business Rule, as the setup guide installs it: signed events.
                emu.webhook = WebhookTarget(
                    f"{bot.url}/servicenow/events", config.servicenow_webhook_secret
                )
            yield Stack(emu, standin, config, app, bot.url)


def _settings(sock: socket.socket, mode: Mode, **values: Any) -> Settings:
    """The bot's settings; the socket reserved for it is closed if they are refused."""
    try:
        return load_settings(mode, **values)
    except BaseException:
        sock.close()
        raise
