"""The emulator's OAuth consent page (`/oauth_auth.do`) in headless Chromium."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from playwright.async_api import Page, expect

from sandbox.servicenow.auth import s256
from tests.browser.conftest import Sandbox

VERIFIER = "v" * 20 + "-consent-page-verifier-" + "v" * 20


async def test_a_person_picks_who_is_signed_in_allows_and_the_code_acts_as_them(
    sandbox: Sandbox, page: Page
) -> None:
    emulator = sandbox.stack.emulator
    redirect_uri = f"{sandbox.url}/?connected=servicenow"
    params = {
        "response_type": "code",
        "client_id": "sandbox-client",
        "redirect_uri": redirect_uri,
        "state": "from-the-browser",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
    }
    await page.goto(f"{emulator.instance_url}/oauth_auth.do?{urlencode(params)}")
    await expect(page.get_by_role("heading")).to_contain_text("sandbox-client")
    await page.get_by_label("Signed in as").select_option("carol.diaz")
    await page.get_by_role("button", name="Allow").click()
    await page.wait_for_url(lambda url: url.startswith(redirect_uri))
    query = parse_qs(urlsplit(page.url).query)
    assert query["state"] == ["from-the-browser"]
    async with httpx.AsyncClient(base_url=emulator.instance_url) as http:
        token = await http.post(
            "/oauth_token.do",
            data={
                "grant_type": "authorization_code",
                "client_id": "sandbox-client",
                "client_secret": "sandbox-secret",
                "code": query["code"][0],
                "redirect_uri": redirect_uri,
                "code_verifier": VERIFIER,
            },
        )
        assert token.status_code == 200, emulator.oauth_log
        me = await http.get(
            "/api/now/table/sys_user",
            params={"sysparm_query": "sys_id=javascript:gs.getUserID()"},
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
    assert me.json()["result"][0]["user_name"] == "carol.diaz"

    await page.goto(f"{emulator.instance_url}/oauth_auth.do?{urlencode(params)}")
    await page.get_by_role("button", name="Deny").click()
    await page.wait_for_url(lambda url: url.startswith(redirect_uri))
    assert parse_qs(urlsplit(page.url).query) == {
        "connected": ["servicenow"],
        "error": ["access_denied"],
        "state": ["from-the-browser"],
    }
