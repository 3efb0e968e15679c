"""`incident-bot` (also `python -m bot`): serve, socket, migrate, check, business-rule, manifest."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from bot.settings import Mode, Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

    from storage import Database


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
    sub.add_parser("migrate", help="bring the database schema up to date")
    sub.add_parser("check", help="verify Slack auth, ServiceNow auth and the database")
    sub.add_parser("business-rule", help="print the ServiceNow Business Rule and how to install it")
    manifest = sub.add_parser("manifest", help="print the Slack app manifest (YAML)")
    where = manifest.add_mutually_exclusive_group()
    where.add_argument(
        "--url", help="the bot's public address; Slack sends everything to URL/slack/events"
    )
    where.add_argument("--socket", action="store_true", help="for Socket Mode (no request URLs)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    if args.command == "business-rule":
        from servicenow.webhook import business_rule_instructions

        print(business_rule_instructions())
        return 0
    if args.command == "manifest":
        return _manifest(args.url, args.socket)
    mode: Mode = args.command
    try:
        settings = load_settings(mode)
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"incident-bot: {problem}", file=sys.stderr)
        return 2
    if mode == "serve":
        return _serve(settings)
    if mode == "socket":
        return asyncio.run(_socket(settings))
    if mode == "migrate":
        return asyncio.run(_migrate(settings))
    return asyncio.run(_check(settings))


def _manifest(url: str | None, socket: bool) -> int:
    from bot.manifest import ManifestError, render

    if url is None and not socket:
        print(
            "incident-bot: manifest needs --url https://<the bot's public address> or --socket",
            file=sys.stderr,
        )
        return 2
    try:
        text = render(None if socket else url)
    except ManifestError as exc:
        print(f"incident-bot: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


def _serve(settings: Settings) -> int:
    import uvicorn

    from bot.app import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    return 0


async def _socket(settings: Settings) -> int:
    import uvicorn
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from bot.app import create_app

    app = create_app(settings)
    handler = AsyncSocketModeHandler(app.state.bot.bolt, settings.slack_app_token)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port))
    await handler.connect_async()  # type: ignore[no-untyped-call]
    try:
        await server.serve()
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
    return 0


async def _migrate(settings: Settings) -> int:
    from storage import Database

    db = Database.from_url(settings.database_url)
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
    from bot.app import build

    bot = build(settings)
    services = bot.services
    failures = 0
    try:
        for name, probe in (
            ("Slack", _check_slack(services.slack)),
            ("ServiceNow", services.servicenow.ping()),
            ("database", _check_database(services.db)),
        ):
            try:
                detail = await probe
            except Exception as exc:
                failures += 1
                print(f"✗ {name}: {_reason(exc)}")
            else:
                print(f"✓ {name}" + (f": {detail}" if detail else ""))
    finally:
        await bot.aclose()
    return 1 if failures else 0


async def _check_slack(slack: AsyncWebClient) -> str:
    response = await slack.auth_test()
    return f"signed in as {response['user']} in {response.get('team', response['team_id'])}"


async def _check_database(db: Database) -> str:
    await db.ping()
    revision = await db.revision()
    return (
        f"revision {revision}"
        if revision
        else "reachable, but not migrated: run `incident-bot migrate`"
    )


def _reason(exc: Exception) -> str:
    from slack_sdk.errors import SlackApiError

    if isinstance(exc, SlackApiError):
        return f"Slack answered {exc.response.get('error')}"
    return str(exc) or type(exc).__name__
