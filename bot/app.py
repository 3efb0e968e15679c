"""The composition root: build every object once, wire them, and expose the Starlette app."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiohttp
import httpx
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

from bot import (
    approvals,
    changes,
    home,
    incidents,
    previews,
    problems,
    requested_items,
    subscriptions,
    threads,
)
from bot.acting import Acting
from bot.approvals.service import Approvals
from bot.bodies import CHANGE_EVENT_LIMIT, SLACK_LIMIT, TooLarge, read_body, too_large
from bot.commands import router as commands
from bot.feed.changes import Feed
from bot.feed.messenger import Messenger
from bot.feed.pace import Pace
from bot.feed.subscriptions import ChannelFeed
from bot.front import handed_over
from bot.health import Health, Worker, supervise
from bot.home.service import Home
from bot.identity import Identity
from bot.incidents.service import Incidents
from bot.linking import CALLBACK_PATH, CONNECT_ACTION, CONNECT_PATH, Linking, NotLinked, Vault
from bot.linking import pages as linking_pages
from bot.metrics import CONTENT_TYPE, Metrics, counter, slack_kind
from bot.permissions import Guard, Policy
from bot.records import install as records
from bot.services import Services
from bot.settings import Settings
from bot.slack import ack as prompt_ack
from bot.slack.interactions import Interactions, handle_http
from bot.slack.kit import notice
from bot.slack.request import dispatch
from bot.subscriptions.service import ChannelSubscriptions
from servicenow.auth import JwtSigner, auth_from_credentials
from servicenow.client import ServiceNowClient, WritePolicy
from servicenow.records import ChoiceCache
from servicenow.transport import ServiceNowTransport
from servicenow.webhook import InvalidEvent, InvalidSignature, verify
from storage import (
    Database,
    Drafts,
    FeedStore,
    IdempotencyKeys,
    LinkedAccounts,
    PostedMessages,
    Pruned,
    Retention,
    StoredAccount,
    Threads,
    UserLinks,
)
from storage.subscriptions import Subscriptions

log = logging.getLogger(__name__)


@dataclass
class Bot:
    """Everything built once: the shared services, each record kind, and the Bolt app."""

    services: Services
    bolt: AsyncApp
    incidents: Incidents
    approvals: Approvals
    home: Home
    subscriptions: ChannelSubscriptions
    metrics: Metrics = field(default_factory=Metrics)

    def __post_init__(self) -> None:
        self._stop = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self.workers = {
            name: Worker(name) for name in ("outbox", "events", "poller", "housekeeping")
        }
        self.health = Health(
            self.services.db,
            self.services.servicenow.urgent(),  # a health check never waits behind a burst
            self.services.feed,
            self.services.feed.store,
            self.workers,
        )

    @property
    def feed(self) -> Feed:
        return self.services.feed

    @property
    def db(self) -> Database:
        return self.services.db

    @property
    def servicenow(self) -> ServiceNowClient:
        return self.services.servicenow

    async def start(self) -> None:
        """Open what needs a running event loop, migrate an embedded SQLite database, and start
        the outbox worker and the poller."""
        services = self.services
        # One aiohttp session for every Slack call (Bolt hands it to each request's client);
        # without it slack_sdk opens a new session and TCP connection per call.
        services.slack.session = aiohttp.ClientSession(trace_configs=[self.metrics.slack_trace()])
        services.messenger.outbox_slack.session = services.slack.session
        if services.settings.is_sqlite:
            await services.db.migrate()
        if services.settings.incident_channel:
            # INCIDENT_CHANNEL becomes a subscription ("every new incident"), once ever.
            await self.subscriptions.from_setting(services.settings.incident_channel)
        self._stop.clear()
        stop = self._stop
        runs: dict[str, Callable[[], Awaitable[None]]] = {
            "outbox": lambda: services.messenger.run(stop),
            "events": lambda: services.feed.run_events(stop),
            "poller": lambda: services.feed.run_poller(stop),
            "housekeeping": self._housekeeping,
        }
        self._workers = [
            asyncio.create_task(supervise(self.workers[name], run, stop), name=name)
            for name, run in runs.items()
        ]

    async def _housekeeping(self) -> None:
        """Hourly: forget idempotency keys and undecided incident drafts after a week, delivered
        outbox rows after two days, and records done with, and identities unused, after
        RETENTION_CLOSED_DAYS/RETENTION_DAYS."""
        while not self._stop.is_set():
            try:
                await self.services.keys.prune(timedelta(days=7))
                await Drafts(self.db).prune(timedelta(days=7))  # a choice never made
                await self.services.messenger.prune()
                await Threads(self.db).prune(timedelta(days=7))
                if self.services.acting.linking is not None:
                    await self.services.acting.linking.accounts.prune_states()
                await self.prune_records()
            except Exception:
                log.exception("housekeeping failed; trying again in an hour")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 3600)

    async def prune_records(self, now: datetime | None = None) -> Pruned:
        """Forget the cards, snapshots and followers of closed records and unused identities
        (storage/retention.py); open records keep everything."""
        settings = self.services.settings
        closed = {table: tracker.closed_states for table, tracker in self.feed.trackers.items()}
        pruned = await Retention(self.db).prune(
            closed,
            closed_days=settings.retention_closed_days,
            days=settings.retention_days,
            now=now,
        )
        if pruned != Pruned():
            log.info(
                "forgot %d cards, %d snapshots, %d followers, %d identities and %d link previews",
                pruned.cards,
                pruned.snapshots,
                pruned.followers,
                pruned.identities,
                pruned.previews,
            )
        return pruned

    async def aclose(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._workers, return_exceptions=True)
        if self.services.slack.session is not None:
            await self.services.slack.session.close()
        await self.services.servicenow.aclose()
        await self.services.db.dispose()


def slack_client(settings: Settings, *, outbox: bool = False) -> AsyncWebClient:
    """The Slack client; the outbox's own retries nothing itself (it must never sleep on a 429
    or a dropped connection inside a claim: the outbox schedules the retry)."""
    return AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        retry_handlers=[]
        if outbox
        else [
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


@dataclass(frozen=True)
class ServiceNowTiming:
    """How long to wait for a ServiceNow answer, and how long after sending a write that got none
    it may still commit (the instance's 60 s transaction quota plus queueing): until then the bot
    only looks for it. ServiceNow's real numbers; the sandbox's tests scale them down."""

    timeout: float = 10.0
    write_horizon: float = 90.0


def servicenow_client(
    settings: Settings,
    timing: ServiceNowTiming = ServiceNowTiming(),
    transport: httpx.AsyncBaseTransport | None = None,
) -> ServiceNowClient:
    """`transport`, when given, should end in
    `ServiceNowTransport(settings.servicenow_max_in_flight)`."""
    auth = auth_from_credentials(
        settings.servicenow_instance_url,
        username=settings.servicenow_username,
        password=settings.servicenow_password,
        client_id=settings.servicenow_client_id,
        client_secret=settings.servicenow_client_secret,
    )
    return ServiceNowClient(
        settings.servicenow_instance_url,
        auth,
        timeout=timing.timeout,
        writes=WritePolicy.within(timing.write_horizon),
        transport=transport,
        max_in_flight=settings.servicenow_max_in_flight,
    )


def acting(
    settings: Settings,
    servicenow: ServiceNowClient,
    timing: ServiceNowTiming = ServiceNowTiming(),
    db: Database | None = None,
) -> Acting:
    """ServiceNow for this person: their own token, from the JWT bearer grant when a JWT key is
    set, or from the account they connected with SERVICENOW_LINKING."""
    if settings.servicenow_linking and db is not None:
        linking = Linking(
            LinkedAccounts(db),
            Vault(settings.token_encryption_keys or ""),
            instance_url=settings.servicenow_instance_url,
            client_id=settings.servicenow_client_id or "",
            client_secret=settings.servicenow_client_secret or "",
            public_url=settings.public_url or "",
            timeout=timing.timeout,
        )
        return Acting(servicenow, linking=linking, timeout=timing.timeout)
    if settings.servicenow_jwt_private_key is None:
        return Acting(servicenow)
    signer = JwtSigner.from_pem(
        settings.servicenow_jwt_private_key,
        key_id=settings.servicenow_jwt_key_id or "",
        client_id=settings.servicenow_client_id or "",
    )
    return Acting(
        servicenow, signer, settings.servicenow_client_secret or "", timeout=timing.timeout
    )


def build(settings: Settings, timing: ServiceNowTiming = ServiceNowTiming()) -> Bot:
    """The composition root: the shared services, then each record kind's `install`."""
    db = Database.from_url(
        settings.database_url,
        pool_size=settings.database_pool_size,
        pool_timeout=settings.database_pool_timeout,
    )
    metrics = Metrics()
    servicenow = servicenow_client(
        settings,
        timing,
        metrics.servicenow_transport(ServiceNowTransport(settings.servicenow_max_in_flight)),
    )
    # What the bot does on its own and what a person's command waits on once started (polls,
    # reconciles, identity and permission look-ups) waits ahead of new work for a slot in flight.
    urgent = servicenow.urgent()
    slack = slack_client(settings)
    store = FeedStore(db)
    messenger = Messenger(
        slack,
        PostedMessages(db),
        store,
        outbox_slack=slack_client(settings, outbox=True),
        lease=timedelta(seconds=settings.outbox_lease_seconds),
        give_up_after=timedelta(hours=settings.outbox_give_up_hours),
        max_backoff=settings.outbox_max_backoff_seconds,
        update_pace=Pace(settings.slack_updates_per_minute, settings.slack_update_burst),
    )
    feed = Feed(
        urgent,
        store,
        db,
        [],
        poll_seconds=settings.servicenow_poll_seconds,
        wake=messenger.wake,
        fold_window=settings.dm_fold_seconds,
    )
    keys = IdempotencyKeys(db)
    # The token travels in `client`, and OAuth is switched off explicitly: Bolt would otherwise go
    # into OAuth mode if SLACK_CLIENT_ID and SLACK_CLIENT_SECRET happened to be in the environment.
    # Bolt also reads SLACK_BOT_TOKEN from the environment and warns that it goes unused beside
    # `client`: true, expected, and noise in front of the start-up checks' lines.
    # (Bolt resets its logger's level while it builds, so a filter holds the line meanwhile.)
    bolt_log, quiet = logging.getLogger("slack_bolt.AsyncApp"), logging.Filter("nothing")
    bolt_log.addFilter(quiet)
    try:
        bolt = AsyncApp(
            signing_secret=settings.slack_signing_secret,
            client=slack,
            oauth_settings=None,
            oauth_flow=None,
        )
    finally:
        bolt_log.removeFilter(quiet)
    prompt_ack.install(bolt)  # answer at ack(), not at Bolt's next 10 ms poll (issue #15)
    # The mode picks who reads and writes for a person, and so who decides what they may do:
    # acting as them, ServiceNow's ACLs; with the integration user, the bot's own table (`policy`).
    acts = acting(settings, servicenow, timing, db)
    linking = acts.linking
    identity = Identity(
        slack,
        urgent,
        UserLinks(db),
        linked=linking.person if linking else None,
        not_linked=(lambda user: NotLinked(linking.connect_url(user))) if linking else None,
        linked_slack_user=linking.slack_user if linking else None,
    )
    policy = Policy(settings.read_role_set, settings.fulfiller_role_set)
    guard = Guard(identity, urgent, policy, client_for=acts.client_for)
    services = Services(
        settings=settings,
        db=db,
        servicenow=servicenow,
        slack=slack,
        identity=identity,
        choices=ChoiceCache(urgent),
        feed=feed,
        messenger=messenger,
        keys=keys,
        interactions=Interactions(bolt, keys, messenger, guard),
        commands=commands.Router(),
        acting=acts,
        channels=ChannelFeed(Subscriptions(db)),
    )
    feed.channels = services.channels
    if linking is not None:
        services.interactions.on_link(CONNECT_ACTION)
    # `/incident` first: Bolt tries listeners in the order registered and builds every listener
    # function's arguments for each matcher it tries (~0.3 ms apiece), so a command, the bot's
    # busiest request, is matched by the first one instead of after the other 23 (issue #15).
    commands.install(services.interactions, services.commands)
    incident_kind = incidents.install(services)
    approval_kind = approvals.install(services)
    records.install(services)  # the buttons every record kind below shares
    requested_items.install(services)
    changes.install(services)
    problems.install(services)
    channel_subscriptions = subscriptions.install(services)  # after the kinds that offer themselves
    home_tab = home.install(services, incident_kind, approval_kind)
    # Conversations: thread replies ↔ comments, link previews, mentions (for every kind above).
    threads.install(services)
    previews.install(services)
    identity = services.identity
    metrics.count(
        lambda: [
            counter(
                "incident_bot_change_events_received",
                "Signed change events stored (answered 202)",
                feed.events_received,
            ),
            counter(
                "incident_bot_change_events_acted_on",
                "Change events reconciled",
                feed.events_acted,
            ),
            counter(
                "incident_bot_identity_cache",
                "Identity lookups answered from memory or storage",
                identity.hits,
                result="hit",
            ),
            counter(
                "incident_bot_identity_cache",
                "Identity lookups that asked Slack and ServiceNow",
                identity.misses,
                result="miss",
            ),
        ]
    )
    return Bot(
        services, bolt, incident_kind, approval_kind, home_tab, channel_subscriptions, metrics
    )


@dataclass(frozen=True)
class SocketMode:
    """Take Slack's requests over a Socket Mode WebSocket instead of `POST /slack/events`."""

    app_token: str
    ping_interval: float = 10.0  # slack_sdk's default; a dropped link is noticed within this
    connect_timeout: float = 30.0


@asynccontextmanager
async def socket_mode_link(bolt: AsyncApp, options: SocketMode) -> AsyncIterator[None]:
    """Connect Bolt over Socket Mode (slack_sdk's aiohttp client, which calls apps.connections.open
    through `bolt.client`, i.e. SLACK_API_URL) and keep it connected, reconnecting as Slack asks."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    handler = AsyncSocketModeHandler(bolt, options.app_token, ping_interval=options.ping_interval)
    try:
        # slack_sdk retries a failed connection forever; start-up must fail instead.
        await asyncio.wait_for(handler.connect_async(), options.connect_timeout)  # type: ignore[no-untyped-call]
    except TimeoutError:
        await handler.close_async()  # type: ignore[no-untyped-call]
        raise RuntimeError(
            f"Socket Mode: no connection to Slack within {options.connect_timeout:.0f} s"
        ) from None
    try:
        yield
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]


def create_app(
    settings: Settings,
    *,
    socket_mode: SocketMode | None = None,
    timing: ServiceNowTiming = ServiceNowTiming(),
    handoff_secret: str | None = None,
) -> Starlette:
    """The HTTP app: `POST /slack/events`, `POST /servicenow/events` and `GET /healthz`.

    With `socket_mode`, Slack's requests come over Socket Mode instead (connected once the
    services have started, closed before they stop) and there is no `/slack/events`.
    With `handoff_secret`, it is `serve`'s worker (bot/front.py): a command the front already
    acked carries the secret, and its ack time is the front's (the worker's ack goes nowhere).
    """
    bot = build(settings, timing)
    metrics = bot.metrics

    def timed(
        route: str, serve: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            response = await serve(request)
            elapsed = time.perf_counter() - started
            metrics.requests.labels(route, str(response.status_code)).observe(elapsed)
            return response

        return endpoint

    async def slack_events(request: Request) -> Response:
        started = time.perf_counter()
        try:
            body = await read_body(request, SLACK_LIMIT)
        except TooLarge:
            return too_large()
        response = await handle_http(functools.partial(dispatch, bot.bolt, body), request)
        if response.status_code == 200:
            acked_in = handed_over(request, handoff_secret)
            elapsed = time.perf_counter() - started if acked_in is None else acked_in
            metrics.acks.labels(slack_kind(body)).observe(elapsed)
        return response

    async def servicenow_events(request: Request) -> Response:
        return await change_event(bot.services, request)

    async def healthz(_: Request) -> Response:
        return await health(bot)

    async def prometheus(_: Request) -> Response:
        await observe_now(bot)
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await bot.start()
        try:
            if socket_mode is None:
                yield
            else:
                async with socket_mode_link(bot.bolt, socket_mode):
                    yield
        finally:
            await bot.aclose()

    routes = [
        Route(
            "/servicenow/events", timed("/servicenow/events", servicenow_events), methods=["POST"]
        ),
        Route("/healthz", timed("/healthz", healthz), methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
    ]
    linking = bot.services.acting.linking
    if linking is not None:
        routes += linking_routes(bot, linking)
    if socket_mode is None:
        routes.insert(
            0, Route("/slack/events", timed("/slack/events", slack_events), methods=["POST"])
        )
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.bot = bot
    return app


def linking_routes(bot: Bot, linking: Linking) -> list[Route]:
    """`GET /servicenow/connect` (the Connect ServiceNow link) and `GET
    /servicenow/oauth/callback` (ServiceNow's redirect back with the code)."""
    services = bot.services

    async def connected(account: StoredAccount) -> None:
        text = linking_pages.connected_text(account)
        await services.identity.forget(account.slack_user_id)
        await services.messenger.ephemeral(None, account.slack_user_id, notice(text))
        await bot.home.publish(account.slack_user_id, text)

    async def connect(request: Request) -> Response:
        return await linking_pages.connect(linking, request)

    async def callback(request: Request) -> Response:
        return await linking_pages.callback(linking, services.servicenow, connected, request)

    return [
        Route(CONNECT_PATH, connect, methods=["GET"]),
        Route(CALLBACK_PATH, callback, methods=["GET"]),
    ]


async def change_event(services: Services, request: Request) -> Response:
    """A signed change event from the Business Rule: 401 unless signed and fresh, 400 unless an
    event, else 202 once the event is stored (the record is fetched and reconciled by the events
    worker; 503 if it could not be stored); 413 for a body over 64 KiB, before it is read whole."""
    try:
        body = await read_body(request, CHANGE_EVENT_LIMIT)
    except TooLarge:
        return too_large()
    try:
        event = verify(
            services.settings.servicenow_webhook_secret,
            request.headers.get("x-sn-timestamp"),
            request.headers.get("x-sn-signature"),
            body,
        )
    except InvalidSignature as exc:
        log.warning("refused a ServiceNow event from %s: %s", _client(request), exc.reason)
        return JSONResponse({"error": "invalid signature"}, status_code=401)
    except InvalidEvent as exc:
        log.warning("refused a ServiceNow event from %s: %s", _client(request), exc)
        return JSONResponse({"error": "not a change event"}, status_code=400)
    try:
        accepted = await services.feed.accept_event(event)
    except Exception as exc:  # not stored: ServiceNow must send it again
        log.warning("could not store a ServiceNow event: %s", exc)
        return JSONResponse({"error": "could not store the event"}, status_code=503)
    if not accepted:
        return JSONResponse(
            {"accepted": False, "reason": f"{event.table} is not tracked"}, status_code=202
        )
    return JSONResponse({"accepted": True}, status_code=202)


async def observe_now(bot: Bot) -> None:
    """The gauges read when scraped: the outbox's depth and oldest message, the poll's lag."""
    metrics, store = bot.metrics, bot.feed.store
    try:
        metrics.outbox_depth.set(await store.pending())
        oldest = await store.oldest_pending_age()
        metrics.outbox_oldest.set(oldest.total_seconds() if oldest else 0)
    except Exception as exc:  # the database away: the last values stay, /healthz says why
        log.warning("metrics: could not read the outbox (%s)", type(exc).__name__)
    if bot.feed.last_poll is not None:
        metrics.poll_lag.set(time.monotonic() - bot.feed.last_poll)


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


async def health(bot: Bot) -> JSONResponse:
    """200, or 503 naming each part in trouble (database, servicenow, outbox, poller, a worker)."""
    problems = await bot.health.problems()
    if problems:
        return JSONResponse({"ok": False, **problems}, status_code=503)
    return JSONResponse({"ok": True, "database": "ok", "servicenow": "ok"})
