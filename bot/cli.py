"""`incident-bot` (also `python -m bot`): serve, socket, migrate, check, outbox, business-rule,
manifest, jwt-keypair, encryption-key."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import sys
from collections.abc import AsyncIterator, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from bot import logs
from bot.settings import Mode, Settings, SettingsError, load_settings

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger(__name__)


class _Parser(argparse.ArgumentParser):
    """Usage mistakes as one line on stderr (exit 2), like every other problem."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"incident-bot: {message} (see `{self.prog} --help`)\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="incident-bot", description=__doc__)
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    sub.add_parser("serve", help="serve Slack requests over HTTP (POST /slack/events)")
    sub.add_parser("socket", help="connect to Slack in Socket Mode (and serve /healthz)")
    worker = sub.add_parser("worker")  # `serve`'s worker (SERVE_WORKERS=1), started by `serve`
    worker.add_argument("socket_path")
    sub.add_parser("migrate", help="bring the database schema up to date")
    sub.add_parser("check", help="verify Slack auth, ServiceNow auth and the database")
    sub.add_parser("business-rule", help="print the ServiceNow Business Rule and how to install it")
    outbox = sub.add_parser(
        "outbox", help="list undelivered and given-up Slack messages; `outbox retry` requeues"
    )
    outbox.add_argument("action", nargs="?", choices=["list", "retry"], default="list")
    outbox.add_argument("id", nargs="?", help="the message to retry (an id from the list)")
    outbox.add_argument("--all-dead", action="store_true", help="retry every given-up message")
    manifest = sub.add_parser("manifest", help="print the Slack app manifest (YAML)")
    where = manifest.add_mutually_exclusive_group()
    where.add_argument(
        "--url", help="the bot's public address; Slack sends everything to URL/slack/events"
    )
    where.add_argument("--socket", action="store_true", help="for Socket Mode (no request URLs)")
    manifest.add_argument(
        "--instance",
        help="the ServiceNow instance whose links get previews (default: SERVICENOW_INSTANCE_URL)",
    )
    keypair = sub.add_parser(
        "jwt-keypair",
        help="make the RSA key pair that lets the bot act as each person (JWT bearer grant)",
    )
    keypair.add_argument(
        "path", help="where to write the private key (PEM, readable by its owner only)"
    )
    sub.add_parser(
        "encryption-key",
        help="print a new key for TOKEN_ENCRYPTION_KEYS (account linking: people's tokens at rest)",
    )
    args = parser.parse_args(argv)
    # Quiet until the bot serves: a start-up that fails says so in one line per problem.
    logs.configure("WARNING")

    if args.command == "business-rule":
        from servicenow.webhook import business_rule_instructions

        print(business_rule_instructions())
        return 0
    if args.command == "manifest":
        return _manifest(args.url, args.socket, args.instance)
    if args.command == "jwt-keypair":
        return _jwt_keypair(args.path)
    if args.command == "encryption-key":
        return _encryption_key()
    retry: list[int] | None = []
    if args.command == "outbox":
        asked = _retry_ids(args.action, args.id, args.all_dead)
        if isinstance(asked, str):
            print(f"incident-bot: {asked}", file=sys.stderr)
            return 2
        retry = asked
    mode: Mode = {"outbox": "migrate", "worker": "serve"}.get(args.command, args.command)
    try:
        settings = load_settings(mode)
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"incident-bot: {problem}", file=sys.stderr)
        return 2
    logs.configure("WARNING", settings.log_format)
    if mode in ("serve", "socket"):
        try:
            if args.command == "worker":
                from bot.front import watch_parent

                # Under contention for the cores, the front's acks go first: a command's work
                # can wait a moment, Slack's 3 s for an ack cannot (docs/benchmarks.md).
                os.nice(WORKER_NICENESS)
                return _serve(
                    _run(settings, socket=False, worker=(args.socket_path, watch_parent()))
                )
            if mode == "serve" and settings.serve_workers:
                return _serve(_front(settings))
            return _serve(_run(settings, socket=mode == "socket"))
        except KeyboardInterrupt:  # uvicorn stops on Ctrl-C, then re-raises it (as uvicorn.run)
            return 0
    if args.command == "outbox":
        return asyncio.run(_outbox(settings, retry))
    if mode == "migrate":
        return asyncio.run(_migrate(settings))
    return asyncio.run(_check(settings))


def _manifest(url: str | None, socket: bool, instance: str | None) -> int:
    import os

    from bot.manifest import ManifestError, render

    if url is None and not socket:
        print(
            "incident-bot: manifest needs --url https://<the bot's public address> or --socket",
            file=sys.stderr,
        )
        return 2
    try:
        text = render(
            None if socket else url, instance or os.environ.get("SERVICENOW_INSTANCE_URL")
        )
    except ManifestError as exc:
        print(f"incident-bot: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


def _encryption_key() -> int:
    """A new Fernet key, and how to put it in use (rotation keeps the old ones after it)."""
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode())
    print(
        "\nSet TOKEN_ENCRYPTION_KEYS to it. To rotate, put the new key first and keep the old ones "
        "after it (TOKEN_ENCRYPTION_KEYS=new,old): new tokens are encrypted with the first, every "
        "key decrypts, and each token is re-encrypted with the new key when it is next refreshed.",
        file=sys.stderr,
    )
    return 0


def _jwt_keypair(path: str) -> int:
    """Write a new private key to `path` (never over an existing file) and print what the admin
    registers in ServiceNow (the public key and its key id) and the two settings."""
    import os

    from servicenow.auth import generate_key_pair, load_private_key, self_signed_certificate

    private, public, key_id = generate_key_pair()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        print(f"incident-bot: can't write {path}: {exc.strerror}", file=sys.stderr)
        return 1
    with os.fdopen(fd, "w") as file:
        file.write(private)
    absolute = os.path.abspath(path)
    certificate = self_signed_certificate(load_private_key(private))
    print(
        f"Wrote the private key to {absolute} (keep it secret; it never leaves the bot).\n\n"
        "1. In ServiceNow, add this certificate (System Definition > Certificates, format PEM, "
        'type Trust Store Cert); docs/servicenow-setup.md, "Acting as the person":\n\n'
        f"{certificate}\n"
        f"2. In the OAuth application's JWT verifier map, pick that certificate with Key Id "
        f"{key_id}.\n\n"
        "3. Set, beside SERVICENOW_CLIENT_ID and SERVICENOW_CLIENT_SECRET:\n\n"
        f"SERVICENOW_JWT_PRIVATE_KEY={absolute}\n"
        f"SERVICENOW_JWT_KEY_ID={key_id}\n\n"
        f"The bare public key (for the sandbox's emulator, `register_jwt_key`):\n\n{public}"
    )
    return 0


# The collector's first generation runs every 700 allocations by default: under a burst, each
# command's SQLAlchemy statements, httpx requests and Block Kit dicts trigger it many times over,
# and the older generations' passes walk every object the process holds (issue #15).
GC_THRESHOLDS = (20_000, 20, 20)

# `serve`'s worker runs this much nicer than the front (Linux: about 9 CPU shares to its 1).
WORKER_NICENESS = 10


def _serve(main: Coroutine[Any, Any, int]) -> int:
    """Run the server on uvloop where it is installed (everywhere but Windows): with httptools
    for HTTP/1.1 parsing, a fifth to a quarter less CPU per command under a burst
    (docs/benchmarks.md, "Throughput and CPU"); else on asyncio's own loop."""
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        return asyncio.run(main)
    return uvloop.run(main)


async def _run(settings: Settings, *, socket: bool, worker: tuple[str, str] | None = None) -> int:
    """`serve` and `socket`: check everything the bot needs first (one line per problem), then
    serve HTTP (`/healthz`, `/servicenow/events`, and `/slack/events` unless in Socket Mode).
    `worker`: as `serve`'s worker (bot/front.py), on this unix socket, with this handoff secret."""
    from bot.app import SocketMode, build, create_app
    from bot.preflight import run_checks

    app_token = settings.slack_app_token if socket else None
    bot = build(settings)
    try:
        findings = await run_checks(bot.services, app_token=app_token, serving=True)
    finally:
        await bot.aclose()
    problems = [finding.text for finding in findings if not finding.ok]
    if problems:
        for problem in dict.fromkeys(problems):
            print(f"incident-bot: {problem}", file=sys.stderr)
        return 1
    logs.configure(settings.log_level, settings.log_format)
    app = create_app(
        settings,
        socket_mode=SocketMode(app_token) if app_token else None,
        handoff_secret=worker[1] if worker else None,
    )
    server = _server(app, settings, uds=worker[0] if worker else None)
    gc.collect()
    gc.freeze()  # what start-up built stays: no collection walks it again
    await server.serve()
    return 0 if server.started else 3  # 3: start-up failed (uvicorn's own code)


def _server(app: Any, settings: Settings, uds: str | None = None) -> uvicorn.Server:
    import uvicorn

    # log_config=None: uvicorn's loggers go through the bot's one handler (one line, JSON too).
    return uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            uds=uds,
            log_config=None,
            log_level=settings.log_level.lower(),
        )
    )


async def _front(settings: Settings) -> int:
    """`serve` with SERVE_WORKERS=1 (bot/front.py): start the worker (which checks everything
    first, as `serve` does, and says what is wrong), then serve the front until stopped, or until
    the worker can no longer be started (1). On the way out (the app's lifespan, so before
    uvicorn re-raises a signal) the commands acked meanwhile are handed over, then the worker
    is stopped."""
    import tempfile

    from bot import front

    with tempfile.TemporaryDirectory(prefix="incident-bot-") as folder:  # 0700: ours alone
        secret = front.new_secret()
        worker = front.WorkerProcess(f"{folder}/worker.sock", secret)
        code = await worker.start()
        if code is not None:
            return code  # it said why (the checks' lines)
        logs.configure(settings.log_level, settings.log_format)
        stop, gave_up = asyncio.Event(), False

        @contextlib.asynccontextmanager
        async def lifespan(_: object) -> AsyncIterator[None]:
            nonlocal gave_up
            async with handoff.running():
                supervising = asyncio.create_task(worker.supervise(stop))
                supervising.add_done_callback(lambda _: setattr(server, "should_exit", True))
                try:
                    yield
                finally:
                    if not await handoff.drain(timeout=30):
                        log.error("stopping with commands not handed over to the worker")
                    stop.set()
                    gave_up = await supervising != 0
                    await worker.stop()

        try:
            async with front.worker_session(worker.socket_path) as client:
                handoff = front.Handoff(client, secret)
                app = front.create_front(settings, client, handoff, lifespan=lifespan)
                server = _server(app, settings)
                await server.serve()
        finally:
            await worker.stop()
        return 1 if gave_up or not server.started else 0


def _retry_ids(action: str, id: str | None, all_dead: bool) -> list[int] | str | None:
    """What `outbox` was asked to requeue: ids, None for every given-up one, [] to only list, or
    what is wrong with the request."""
    if action == "list":
        return [] if id is None and not all_dead else "`outbox` lists; to requeue: outbox retry ID"
    if all_dead == (id is not None):
        return "outbox retry takes one message id or --all-dead"
    if all_dead:
        return None
    if id is None or not id.isdigit():
        return f"outbox retry: {id!r} is not a message id (a number from `incident-bot outbox`)"
    return [int(id)]


async def _outbox(settings: Settings, retry: list[int] | None) -> int:
    """List what has not been delivered (one line each), or requeue given-up messages."""
    from datetime import UTC, datetime

    from storage import Database, FeedStore

    db = Database.from_url(
        settings.database_url,
        pool_size=settings.database_pool_size,
        pool_timeout=settings.database_pool_timeout,
    )
    store = FeedStore(db)
    try:
        if retry is None or retry:
            requeued = await store.requeue(retry)
            if retry and not requeued:
                print(
                    f"incident-bot: outbox: no given-up message {retry[0]} (or a newer update of "
                    "it is pending)",
                    file=sys.stderr,
                )
                return 1
            print(f"requeued {len(requeued)}: {' '.join(map(str, requeued))}".rstrip(": "))
            return 0
        now = datetime.now(UTC)
        for message in await store.undelivered():
            age = _age((now - message.created_at).total_seconds())
            error = " ".join(message.last_error.split())[:200] or "-"
            print(
                f"{message.id}\t{message.status}\t{message.kind}\t{message.target}\t"
                f"attempts={message.attempts}\tage={age}\t{error}"
            )
    except Exception as exc:
        print(f"incident-bot: outbox: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 1
    finally:
        await db.dispose()
    return 0


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


async def _migrate(settings: Settings) -> int:
    from storage import Database

    db = Database.from_url(
        settings.database_url,
        pool_size=settings.database_pool_size,
        pool_timeout=settings.database_pool_timeout,
    )
    try:
        await db.migrate()
        print(f"incident-bot: database at revision {await db.revision()}")
    except Exception as exc:
        print(f"incident-bot: migration failed: {exc}", file=sys.stderr)
        return 1
    finally:
        await db.dispose()
    return 0


async def _check(settings: Settings) -> int:
    """Each finding on a line: what works on stdout, each problem on stderr naming the setting."""
    from bot.app import build
    from bot.preflight import run_checks

    bot = build(settings)
    try:
        findings = await run_checks(bot.services, app_token=settings.slack_app_token)
    finally:
        await bot.aclose()
    for finding in findings:
        if finding.ok:
            print(f"✓ {finding.what}" + (f": {finding.text}" if finding.text else ""))
    for problem in dict.fromkeys(finding.text for finding in findings if not finding.ok):
        print(f"incident-bot: {problem}", file=sys.stderr)
    return 0 if all(finding.ok for finding in findings) else 1
