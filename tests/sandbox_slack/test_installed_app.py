"""Once an app is installed from its manifest, the stand-in holds the bot to it as Slack does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack import NotInManifest, SlackStandIn

if TYPE_CHECKING:
    from tests.sandbox_slack.conftest import FakeBot

ALICE = "U0ALICE000"
GENERAL = "C0GENERAL0"


def manifest(
    url: str | None,
    *,
    scopes: tuple[str, ...] = ("commands", "chat:write", "users:read"),
    events: tuple[str, ...] = ("app_home_opened",),
    interactivity: bool = True,
    options_url: bool = True,
) -> dict[str, Any]:
    at = {"request_url": url} if url else {}
    interaction: dict[str, Any] = {"is_enabled": interactivity, **at}
    if url and options_url:
        interaction["message_menu_options_url"] = url
    return {
        "display_information": {"name": "test-app"},
        "features": {
            "bot_user": {"display_name": "test-app"},
            "app_home": {"home_tab_enabled": True, "messages_tab_enabled": False},
            "slash_commands": [
                {"command": "/incident", **({"url": url} if url else {}), "description": "x"}
            ],
        },
        "oauth_config": {"scopes": {"bot": list(scopes)}},
        "settings": {
            "event_subscriptions": {**at, "bot_events": list(events)},
            "interactivity": interaction,
            "socket_mode_enabled": url is None,
        },
    }


async def test_a_method_without_its_scope_answers_missing_scope_with_needed_and_provided(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    slack.install_app(manifest(None, scopes=("commands", "users:read")))
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel=ALICE, text="hello")
    assert caught.value.response.data == {
        "ok": False,
        "error": "missing_scope",
        "needed": "chat:write",
        "provided": "commands,users:read",
    }
    assert [(c.method, c.error) for c in slack.calls] == [("chat.postMessage", "missing_scope")]
    assert slack.messages_in(slack.dm_channel(ALICE)) == []


async def test_calls_record_the_scopes_they_relied_on(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    slack.install_app(manifest(None, scopes=("chat:write",)))
    await client.auth_test()
    await client.chat_postMessage(channel=ALICE, text="a DM takes chat:write alone")
    assert [(c.method, c.scopes) for c in slack.calls] == [
        ("auth.test", ()),
        ("chat.postMessage", ("chat:write",)),
    ]
    assert slack.scopes_used == {"chat:write"}


async def test_users_info_gives_the_email_only_with_users_read_email(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    slack.install_app(manifest(None, scopes=("users:read",)))
    without = await client.users_info(user=ALICE)
    assert "email" not in without["user"]["profile"]
    slack.install_app(manifest(None, scopes=("users:read", "users:read.email")))
    with_email = await client.users_info(user=ALICE)
    assert with_email["user"]["profile"]["email"] == "alice@example.com"
    assert slack.calls[-1].scopes == ("users:read", "users:read.email")
    with pytest.raises(SlackApiError, match="missing_scope"):
        slack.install_app(manifest(None, scopes=("users:read",)))
        await client.users_lookupByEmail(email="alice@example.com")


async def test_an_uninvited_public_channel_takes_chat_write_public(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    slack.install_app(manifest(None, scopes=("chat:write",)))
    with pytest.raises(SlackApiError, match="not_in_channel"):
        await client.chat_postMessage(channel=GENERAL, text="card")
    slack.bot_channels.add(GENERAL)  # /invite @bot
    await client.chat_postMessage(channel=GENERAL, text="card")

    slack.bot_channels.clear()
    slack.install_app(manifest(None, scopes=("chat:write", "chat:write.public")))
    await client.chat_postMessage(channel=GENERAL, text="card")
    assert slack.calls[-1].scopes == ("chat:write", "chat:write.public")
    assert len(slack.messages_in(GENERAL)) == 2


async def test_requests_go_to_the_manifests_urls_and_only_what_it_declares(
    slack: SlackStandIn, bot: FakeBot
) -> None:
    slack.install_app(manifest(f"{bot.url}/slack/events", events=()))
    slack.bot_url = "http://127.0.0.1:9"  # ignored: the manifest says where to send
    assert (await slack.send_command(ALICE, "help")).status == 200
    with pytest.raises(NotInManifest, match="/ticket is not a valid command"):
        await slack.send_command(ALICE, "help", command="/ticket")
    with pytest.raises(NotInManifest, match="not subscribed to app_home_opened"):
        await slack.send_event(slack.app_home_opened(ALICE))
    assert len(bot.received) == 1
    assert slack.scopes_used == {"commands"}


async def test_interactions_need_interactivity_and_options_need_an_options_load_url(
    slack: SlackStandIn, bot: FakeBot
) -> None:
    slack.install_app(manifest(f"{bot.url}/slack/events", options_url=False))
    with pytest.raises(NotInManifest, match="message_menu_options_url"):
        await slack.send_options(ALICE, action_id="group", block_id="group", value="net")
    slack.install_app(manifest(f"{bot.url}/slack/events", interactivity=False))
    with pytest.raises(NotInManifest, match="interactivity"):
        await slack.send_block_action(ALICE, action_id="go", channel_id=GENERAL)
    assert bot.received == []


async def test_a_socket_mode_app_needs_no_urls_and_an_http_app_needs_them_all(
    slack: SlackStandIn, bot: FakeBot
) -> None:
    slack.install_app(manifest(None))
    assert (await slack.send_options(ALICE, action_id="g", block_id="g", value="n")).status == 200
    http = manifest("https://bot.example.org/slack/events")
    del http["settings"]["interactivity"]["request_url"]
    with pytest.raises(ValueError, match="request URL for: interactivity"):
        slack.install_app(http)
