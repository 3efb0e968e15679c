"""No ServiceNow session cookie is kept, so parallel calls are not serialised on one session."""

from __future__ import annotations

import asyncio

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.server import serve
from servicenow.client import ServiceNowClient


async def test_cookies_set_by_the_instance_are_never_sent_back() -> None:
    seen: list[str | None] = []

    async def table(request: Request) -> JSONResponse:
        seen.append(request.headers.get("cookie"))
        response = JSONResponse({"result": [{"sys_id": "a" * 32}]}, headers={"X-Total-Count": "1"})
        response.set_cookie("JSESSIONID", "0123456789ABCDEF", path="/")
        response.set_cookie("glide_user_route", "glide.abc", path="/")
        return response

    app = Starlette(routes=[Route("/api/now/table/{name}", table)])
    async with (
        serve(app) as server,
        # by name: aiohttp's default jar would ignore cookies from an IP address
        ServiceNowClient(
            server.url.replace("127.0.0.1", "localhost"),
            httpx.BasicAuth("incident.bot", "incident-bot"),
        ) as sn,
    ):
        for _ in range(3):
            page = await sn.list("incident")
            assert page.records == [{"sys_id": "a" * 32}]
        # parallel calls too (each on a connection of its own: the transport keeps no jar either)
        pages = await asyncio.gather(*(sn.list("incident") for _ in range(10)))
        assert all(page.records == [{"sys_id": "a" * 32}] for page in pages)
    assert seen == [None] * 13
