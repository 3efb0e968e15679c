"""The composition root: build every object once, wire them, and expose the Starlette app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.identity import Identity
from bot.incidents import Incidents
from bot.listeners import actions, commands, options, views
from bot.messenger import Messenger
from bot.settings import Settings
from servicenow.auth import auth_from_credentials
from servicenow.client import ServiceNowClient
from servicenow.records import ChoiceCache
from storage import Database, IdempotencyKeys, PostedMessages, UserLinks

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: Database
    servicenow: ServiceNowClient
    slack: AsyncWebClient
    identity: Identity
    incidents: Incidents
    messenger: Messenger
    keys: IdempotencyKeys

    async def start(self) -> None:
        """Open what needs a running event loop; migrate an embedded SQLite database."""
        # One aiohttp session for every Slack call (Bolt hands it to each request's client);
        # without it slack_sdk opens a new session and TCP connection per call.
        self.slack.session = aiohttp.ClientSession()
        if self.settings.is_sqlite:
            await self.db.migrate()

    async def aclose(self) -> None:
        if self.slack.session is not None:
            await self.slack.session.close()
        await self.servicenow.aclose()
        await self.db.dispose()


def slack_client(settings: Settings) -> AsyncWebClient:
    return AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


def servicenow_client(settings: Settings) -> ServiceNowClient:
    auth = auth_from_credentials(
        settings.servicenow_instance_url,
        username=settings.servicenow_username,
        password=settings.servicenow_password,
        client_id=settings.servicenow_client_id,
        client_secret=settings.servicenow_client_secret,
    )
    return ServiceNowClient(settings.servicenow_instance_url, auth)


def build_services(settings: Settings) -> Services:
    db = Database.from_url(settings.database_url)
    servicenow = servicenow_client(settings)
    slack = slack_client(settings)
    identity = Identity(slack, servicenow, UserLinks(db))
    messenger = Messenger(slack, PostedMessages(db))
    incidents = Incidents(servicenow, identity, messenger, ChoiceCache(servicenow))
    keys = IdempotencyKeys(db)
    return Services(settings, db, servicenow, slack, identity, incidents, messenger, keys)


def build_bolt(services: Services) -> AsyncApp:
    settings = services.settings
    # The token travels in `client`, and OAuth is switched off explicitly: Bolt would otherwise go
    # into OAuth mode if SLACK_CLIENT_ID and SLACK_CLIENT_SECRET happened to be in the environment.
    app = AsyncApp(
        signing_secret=settings.slack_signing_secret,
        client=services.slack,
        oauth_settings=None,
        oauth_flow=None,
    )
    commands.register(app, services.incidents, services.keys)
    actions.register(app, services.incidents, services.keys)
    views.register(app, services.incidents, services.keys, services.messenger)
    options.register(app, services.incidents)
    return app


def create_app(settings: Settings) -> Starlette:
    """The HTTP app: `POST /slack/events` and `GET /healthz`."""
    services = build_services(settings)
    bolt = build_bolt(services)
    handler = AsyncSlackRequestHandler(bolt)

    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(_: Request) -> Response:
        return await health(services)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await services.start()
        yield
        await services.aclose()

    app = Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.services = services
    return app


async def health(services: Services) -> JSONResponse:
    problems: dict[str, str] = {}
    try:
        await services.db.ping()
    except Exception as exc:
        problems["database"] = f"{type(exc).__name__}: {exc}"
    try:
        await services.servicenow.ping()
    except Exception as exc:
        problems["servicenow"] = str(exc) or type(exc).__name__
    if problems:
        return JSONResponse({"ok": False, **problems}, status_code=503)
    return JSONResponse({"ok": True, "database": "ok", "servicenow": "ok"})
