"""Start-up checks: can the bot reach, and sign in to, everything it needs?

`incident-bot check` prints every finding; `serve` and `socket` run the same probes before they
listen and stop on the first start-up that would fail, with one line per problem naming the
setting to fix (`SLACK_APP_TOKEN was refused by Slack (invalid_auth)`), never a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
from slack_sdk.errors import SlackApiError

from servicenow.errors import AuthError, ServiceNowError, UnavailableError

if TYPE_CHECKING:
    from bot.services import Services

PROBE_TIMEOUT = 15.0  # seconds; each probe runs concurrently, so start-up waits this long at most
REASON_MAX = 200


@dataclass(frozen=True)
class Finding:
    """One probe's outcome: `text` is a detail when `ok`, else the problem, naming the setting."""

    what: str
    ok: bool
    text: str


async def run_checks(
    services: Services, *, app_token: str | None = None, serving: bool = False
) -> list[Finding]:
    """Probe Slack (and the app-level token when given), ServiceNow and the database at once.

    `serving`: the database must be ready to serve, i.e. migrated (SQLite migrates itself at start).
    """
    probes: list[tuple[str, str, Callable[[], Awaitable[str]]]] = [
        ("Slack", "SLACK_API_URL", lambda: _slack(services)),
    ]
    if app_token:
        probes.append(("Socket Mode", "SLACK_API_URL", lambda: _socket_mode(services, app_token)))
    probes += [
        ("ServiceNow", "SERVICENOW_INSTANCE_URL", lambda: _servicenow(services)),
        ("database", "DATABASE_URL", lambda: _database(services, serving=serving)),
    ]
    if services.acting.linking is not None:
        probes.append(("account linking", "PUBLIC_URL", lambda: _linking(services)))

    async def probe(what: str, setting: str, run: Callable[[], Awaitable[str]]) -> Finding:
        try:
            return Finding(what, True, await asyncio.wait_for(run(), PROBE_TIMEOUT))
        except Problem as problem:
            return Finding(what, False, str(problem))
        except TimeoutError:
            return Finding(what, False, f"{setting}: no answer within {PROBE_TIMEOUT:.0f} s")
        except Exception as exc:  # anything unforeseen still becomes one line
            return Finding(what, False, f"{setting}: {reason(exc)}")

    return list(await asyncio.gather(*(probe(*p) for p in probes)))


class Problem(Exception):
    """A probe's failure, already worded for the operator."""


async def _slack(services: Services) -> str:
    try:
        response = await services.slack.auth_test()
    except SlackApiError as exc:
        raise Problem(
            f"SLACK_BOT_TOKEN was refused by Slack ({exc.response.get('error')})"
        ) from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise Problem(_unreachable("SLACK_API_URL", services.settings.slack_api_url, exc)) from exc
    return f"signed in as {response['user']} in {response.get('team', response['team_id'])}"


async def _socket_mode(services: Services, app_token: str) -> str:
    try:
        await services.slack.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        raise Problem(
            f"SLACK_APP_TOKEN was refused by Slack ({exc.response.get('error')})"
        ) from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise Problem(_unreachable("SLACK_API_URL", services.settings.slack_api_url, exc)) from exc
    return "SLACK_APP_TOKEN may open connections"


async def _servicenow(services: Services) -> str:
    settings = services.settings
    url = settings.servicenow_instance_url
    try:
        await services.servicenow.ping()
    except AuthError as exc:
        names = [
            name
            for name, value in (
                ("SERVICENOW_USERNAME", settings.servicenow_username),
                ("SERVICENOW_PASSWORD", settings.servicenow_password),
                ("SERVICENOW_CLIENT_ID", settings.servicenow_client_id),
                ("SERVICENOW_CLIENT_SECRET", settings.servicenow_client_secret),
            )
            if value
        ]
        raise Problem(f"{'/'.join(names)} refused by ServiceNow ({_short(str(exc))})") from exc
    except UnavailableError as exc:
        if exc.status is None:  # no answer at all
            raise Problem(
                _unreachable("SERVICENOW_INSTANCE_URL", url, exc.__cause__ or exc)
            ) from exc
        raise Problem(
            f"SERVICENOW_INSTANCE_URL: {url} answered {exc.status} ({_short(str(exc))})"
        ) from exc
    except ServiceNowError as exc:
        status = f"answered {exc.status}" if exc.status else "failed"
        raise Problem(f"SERVICENOW_INSTANCE_URL: {url} {status} ({_short(str(exc))})") from exc
    who = settings.servicenow_username or settings.servicenow_client_id
    return f"{url} as {who}"


async def _database(services: Services, *, serving: bool) -> str:
    try:
        await services.db.ping()
        revision = await services.db.revision()
    except Exception as exc:
        raise Problem(f"DATABASE_URL: cannot connect ({reason(exc)})") from exc
    if revision:
        return f"revision {revision}"
    if serving and not services.settings.is_sqlite:
        raise Problem("DATABASE_URL: the database is not migrated: run `incident-bot migrate`")
    if services.settings.is_sqlite:
        return "reachable (migrated when the bot starts)"
    return "reachable, but not migrated: run `incident-bot migrate`"


async def _linking(services: Services) -> str:
    linking = services.acting.linking
    assert linking is not None
    return (
        f"people come back to {linking.redirect_uri} (the OAuth client's redirect URL in "
        "ServiceNow must be exactly this)"
    )


def _unreachable(setting: str, url: str, exc: BaseException) -> str:
    return f"{setting}: {url} unreachable ({reason(exc)})"


def reason(exc: BaseException) -> str:
    """One short line about an exception: the driver's own error for SQLAlchemy's wrappers."""
    root = getattr(exc, "orig", None) or exc
    text = " ".join(str(root).split("\n")[0].split())
    name = type(root).__name__
    return _short(f"{name}: {text}" if text else name)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= REASON_MAX else text[: REASON_MAX - 1] + "…"
