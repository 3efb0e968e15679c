"""The two web pages of "Connect ServiceNow": `GET /servicenow/connect` (the link from Slack: a
state bound to the person and this browser, then on to ServiceNow) and `GET
/servicenow/oauth/callback` (ServiceNow sends the browser back here with the code)."""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bot.linking.service import CALLBACK_PATH, Linking, LinkProblem
from bot.slack.kit import escape
from servicenow.client import ServiceNowClient
from servicenow.errors import ServiceNowError
from storage import StoredAccount

log = logging.getLogger(__name__)

COOKIE = "incident_bot_link"
Connected = Callable[[StoredAccount], Awaitable[None]]


def page(title: str, text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="en"><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto">'
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>",
        status_code=status,
    )


async def connect(linking: Linking, request: Request) -> Response:
    ticket = request.query_params.get("t", "")
    try:
        started = await linking.start(ticket)
    except LinkProblem as problem:
        return page(problem.title, problem.text, problem.status)
    response = RedirectResponse(started.authorize_url, status_code=302)
    response.set_cookie(
        COOKIE,
        started.browser,
        max_age=linking.state_ttl,
        path=CALLBACK_PATH,
        httponly=True,
        secure=linking.public_url.startswith("https://"),
        samesite="lax",  # sent on ServiceNow's top-level redirect back here
    )
    return response


async def callback(
    linking: Linking, servicenow: ServiceNowClient, connected: Connected, request: Request
) -> Response:
    params = request.query_params
    state, code = params.get("state", ""), params.get("code", "")
    browser = request.cookies.get(COOKIE, "")
    if params.get("error"):
        # Denied at ServiceNow: use the state up so it can't be replayed, and say so.
        if state:
            await linking.decline(state, browser)
        return page(
            "Not connected",
            "You didn't allow the bot to act as you in ServiceNow, so nothing was linked. You "
            "can connect any time from the bot's Home tab in Slack.",
        )
    if not state or not code:
        return page("Not connected", "This page needs a sign-in from ServiceNow.", 400)
    try:
        account = await linking.finish(state, code, browser, servicenow)
    except LinkProblem as problem:
        log.info("a Connect ServiceNow sign-in was refused: %s", problem.title)
        return page(problem.title, problem.text, problem.status)
    except ServiceNowError as exc:
        log.warning("Connect ServiceNow: could not ask who the token belongs to (%s)", exc)
        return page(
            "ServiceNow didn't answer",
            "ServiceNow did not say who you are, so nothing was linked. Please try again.",
            502,
        )
    log.info("linked %s to sys_user %s", account.slack_user_id, account.sys_user_id)
    try:
        await connected(account)
    except Exception:
        log.exception("could not tell %s they are connected", account.slack_user_id)
    response = page(
        "Connected",
        f"Connected as {account.display_name or account.user_name}. You can close this tab "
        "and go back to Slack.",
    )
    response.delete_cookie(COOKIE, path=CALLBACK_PATH)
    return response


def connected_text(account: StoredAccount) -> str:
    return (
        f":white_check_mark: Connected as *{escape(account.display_name or account.user_name)}* "
        "in ServiceNow: what you do from Slack is now done as you. `/incident disconnect` "
        "undoes it."
    )
