"""The Web API as the real slack_sdk AsyncWebClient sees it: bodies, errors and HTTP statuses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack import ApiFault, SlackStandIn
from sandbox.slack.records import ALICE, BOB, BOT, BOT_ID, ERIN, GENERAL, INCIDENTS

if TYPE_CHECKING:
    from slack_sdk.web.async_slack_response import AsyncSlackResponse

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*INC0010001* printer on fire"}}

Load = Callable[[str], Any]
Provoke = Callable[[AsyncWebClient, SlackStandIn], Awaitable["AsyncSlackResponse"]]


async def expect_error(call: Awaitable[Any]) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


def assert_matches_fixture(error: SlackApiError, code: str, fixture_json: Load) -> None:
    index = fixture_json("errors/_index.json")[code]
    assert error.response.data == fixture_json(index["body_file"])
    assert error.response.status_code == index["http_status"]
    for name, value in (index["headers"] or {}).items():
        assert error.response.headers[name] == value


async def test_auth_test_has_the_fixture_shape_and_the_bot_identity(
    client: AsyncWebClient, slack: SlackStandIn, fixture_json: Load
) -> None:
    response = await client.auth_test()
    assert set(response.data) == set(fixture_json("auth_test.ok.bot.json"))
    assert (response["user_id"], response["bot_id"], response["team_id"]) == (
        BOT,
        BOT_ID,
        "T0SANDBOX",
    )
    [call] = slack.calls_to("auth.test")
    assert call.token == slack.bot_token and call.error is None


async def test_users_info_has_the_fixture_shape_and_the_profile_email(
    client: AsyncWebClient, slack: SlackStandIn, fixture_json: Load
) -> None:
    expected = fixture_json("users_info.ok.json")
    response = await client.users_info(user=ALICE)
    user = response["user"]
    assert set(response.data) == set(expected)
    assert set(user) == set(expected["user"])
    assert set(user["profile"]) == set(expected["user"]["profile"])
    assert (user["id"], user["name"], user["real_name"]) == (ALICE, "alice", "Alice Chen")
    assert user["profile"]["email"] == "alice@example.com"
    assert user["tz"] == "Europe/London" and user["is_bot"] is False
    assert slack.calls_to("users.info")[0].args == {"user": ALICE}


async def test_lookup_by_email_finds_the_user_in_the_fixture_shape(
    client: AsyncWebClient, fixture_json: Load
) -> None:
    expected = fixture_json("users_lookupByEmail.ok.json")
    response = await client.users_lookupByEmail(email="Bob@Example.com")
    assert set(response["user"]) == set(expected["user"])
    assert set(response["user"]["profile"]) == set(expected["user"]["profile"])
    assert response["user"]["id"] == BOB


async def test_lookup_by_email_refuses_unknown_and_deactivated_users(
    client: AsyncWebClient, slack: SlackStandIn, fixture_json: Load
) -> None:
    slack.users[ERIN].deleted = True
    for email in ("nobody@example.com", "erin@example.com"):
        error = await expect_error(client.users_lookupByEmail(email=email))
        assert_matches_fixture(error, "users_not_found", fixture_json)
    info = await client.users_info(user=ERIN)
    assert info["user"]["deleted"] is True


async def cant_update(client: AsyncWebClient, slack: SlackStandIn) -> AsyncSlackResponse:
    theirs = slack.post_as_user(ALICE, GENERAL, "written by Alice")
    return await client.chat_update(channel=GENERAL, ts=theirs.ts, text="hijacked")


async def ratelimited(client: AsyncWebClient, slack: SlackStandIn) -> AsyncSlackResponse:
    slack.faults.append(ApiFault("chat.postMessage", retry_after=30))
    return await client.chat_postMessage(channel=GENERAL, text="hello")


async def revoked(client: AsyncWebClient, slack: SlackStandIn) -> AsyncSlackResponse:
    slack.faults.append(ApiFault("*", error="token_revoked"))
    return await client.auth_test()


async def inactive(client: AsyncWebClient, slack: SlackStandIn) -> AsyncSlackResponse:
    slack.faults.append(ApiFault("auth.test", error="account_inactive"))
    return await client.auth_test()


PROVOKE: dict[str, Provoke] = {
    "user_not_found": lambda c, s: c.users_info(user="U0NOBODY00"),
    "users_not_found": lambda c, s: c.users_lookupByEmail(email="nobody@example.com"),
    "channel_not_found": lambda c, s: c.chat_postMessage(channel="C0NOWHERE0", text="hi"),
    "message_not_found": lambda c, s: c.chat_update(channel=GENERAL, ts="1.000001", text="x"),
    "cant_update_message": cant_update,
    "invalid_auth": lambda c, s: AsyncWebClient(
        token="xoxb-wrong", base_url=c.base_url
    ).auth_test(),
    "not_authed": lambda c, s: AsyncWebClient(base_url=c.base_url).auth_test(),
    "ratelimited": ratelimited,
    "token_revoked": revoked,
    "account_inactive": inactive,
}


@pytest.mark.parametrize("code", sorted(PROVOKE))
async def test_errors_have_the_fixture_body_and_http_status(
    code: str, client: AsyncWebClient, slack: SlackStandIn, fixture_json: Load
) -> None:
    error = await expect_error(PROVOKE[code](client, slack))
    assert_matches_fixture(error, code, fixture_json)
    assert slack.calls[-1].error == code


async def test_ratelimited_fault_is_429_with_retry_after_then_clears(
    client: AsyncWebClient, slack: SlackStandIn
) -> None:
    slack.faults.append(ApiFault("chat.postMessage", retry_after=7))
    error = await expect_error(client.chat_postMessage(channel=GENERAL, text="first"))
    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "7"
    assert slack.messages_in(GENERAL) == [] and slack.faults == []
    await client.chat_postMessage(channel=GENERAL, text="second")
    assert [m.text for m in slack.messages_in(GENERAL)] == ["second"]
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429, 200]


async def test_sdk_rate_limit_handler_retries_through_a_429(
    client: AsyncWebClient, slack: SlackStandIn
) -> None:
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    slack.faults.append(ApiFault("chat.postMessage", retry_after=0))
    response = await client.chat_postMessage(channel=GENERAL, text="eventually")
    assert response["ok"] is True
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429, 200]


async def test_fault_with_a_status_and_several_times(
    client: AsyncWebClient, slack: SlackStandIn
) -> None:
    slack.faults.append(ApiFault("users.info", error="fatal_error", status=500, times=2))
    for _ in range(2):
        error = await expect_error(client.users_info(user=ALICE))
        assert (error.response.status_code, error.response["error"]) == (500, "fatal_error")
    assert (await client.users_info(user=ALICE))["ok"] is True


async def test_post_message_records_the_message_and_answers_in_the_fixture_shape(
    client: AsyncWebClient, slack: SlackStandIn, fixture_json: Load
) -> None:
    expected = fixture_json("chat_postMessage.ok.json")
    attachments = [{"text": "attached", "id": 1, "fallback": "attached"}]
    response = await client.chat_postMessage(
        channel=INCIDENTS, text="Here's a message", attachments=attachments
    )
    assert set(response.data) == set(expected)
    assert set(response["message"]) == set(expected["message"])
    assert response["channel"] == INCIDENTS
    assert response["message"]["bot_id"] == BOT_ID
    [message] = slack.messages_in(INCIDENTS)
    assert (message.ts, message.text, message.user) == (
        response["ts"],
        "Here's a message",
        BOT,
    )
    assert message.attachments == attachments and message.edited == 0


async def test_post_message_keeps_blocks_threads_and_increasing_ts(
    client: AsyncWebClient, slack: SlackStandIn
) -> None:
    first = await client.chat_postMessage(channel=GENERAL, text="card", blocks=[SECTION])
    reply = await client.chat_postMessage(channel=GENERAL, text="reply", thread_ts=first["ts"])
    card, threaded = slack.messages_in("general")
    assert card.blocks == [SECTION] and first["message"]["blocks"] == [SECTION]
    assert threaded.thread_ts == first["ts"] and float(reply["ts"]) > float(first["ts"])


async def test_post_to_a_user_id_lands_in_their_dm_channel(
    client: AsyncWebClient, slack: SlackStandIn
) -> None:
    response = await client.chat_postMessage(channel=ALICE, text="you have an approval")
    opened = await client.conversations_open(users=ALICE)
    assert opened.data == {"ok": True, "channel": {"id": "D0ALICE000"}}
    assert response["channel"] == opened["channel"]["id"] == slack.dm_channel(ALICE)
    again = await client.conversations_open(users=[ALICE])
    assert again["channel"]["id"] == "D0ALICE000"
    assert [m.text for m in slack.messages_in("D0ALICE000")] == ["you have an approval"]


async def test_conversations_open_with_an_unknown_user_fails(client: AsyncWebClient) -> None:
    error = await expect_error(client.conversations_open(users="U0NOBODY00"))
    assert error.response["error"] == "user_not_found"


async def test_update_rewrites_the_message_and_keeps_the_previous_version(
    client: AsyncWebClient, slack: SlackStandIn, fixture_json: Load
) -> None:
    posted = await client.chat_postMessage(channel=GENERAL, text="New", blocks=[SECTION])
    response = await client.chat_update(channel=GENERAL, ts=posted["ts"], text="In Progress")
    expected = fixture_json("chat_update.ok.json")
    assert set(response.data) == set(expected)
    assert set(response["message"]) == set(expected["message"])
    assert response["message"]["user"] == BOT
    [message] = slack.messages_in(GENERAL)
    assert (message.text, message.edited) == ("In Progress", 1)
    assert message.blocks == []  # text without blocks clears the blocks
    assert [(old.text, old.blocks) for old in message.history] == [("New", [SECTION])]

    await client.chat_update(channel=GENERAL, ts=posted["ts"], text="Resolved", blocks=[SECTION])
    assert (message.edited, message.blocks) == (2, [SECTION])
    assert [old.text for old in message.history] == ["New", "In Progress"]


async def test_update_needs_the_dm_channel_id_not_the_user_id(
    client: AsyncWebClient, slack: SlackStandIn
) -> None:
    posted = await client.chat_postMessage(channel=ALICE, text="hello")
    error = await expect_error(client.chat_update(channel=ALICE, ts=posted["ts"], text="x"))
    assert error.response["error"] == "channel_not_found"
    await client.chat_update(channel=posted["channel"], ts=posted["ts"], text="edited")
    assert slack.messages_in(slack.dm_channel(ALICE))[0].text == "edited"


async def test_update_refuses_text_over_4000_characters(client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel=GENERAL, text="short")
    error = await expect_error(
        client.chat_update(channel=GENERAL, ts=posted["ts"], text="x" * 4001)
    )
    assert error.response["error"] == "msg_too_long"


async def test_post_ephemeral_and_delete(client: AsyncWebClient, slack: SlackStandIn) -> None:
    response = await client.chat_postEphemeral(channel=GENERAL, user=BOB, text="only for Bob")
    [ephemeral] = slack.ephemerals
    assert (ephemeral.channel, ephemeral.user, ephemeral.text, ephemeral.source) == (
        GENERAL,
        BOB,
        "only for Bob",
        "api",
    )
    assert response["message_ts"] == ephemeral.ts
    posted = await client.chat_postMessage(channel=GENERAL, text="to delete")
    deleted = await client.chat_delete(channel=GENERAL, ts=posted["ts"])
    assert deleted.data == {"ok": True, "channel": GENERAL, "ts": posted["ts"]}
    assert slack.messages_in(GENERAL) == [] and [m.text for m in slack.deleted] == ["to delete"]


async def test_blocks_over_slack_limits_are_invalid_blocks(
    client: AsyncWebClient, slack: SlackStandIn
) -> None:
    too_long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    error = await expect_error(
        client.chat_postMessage(channel=GENERAL, text="t", blocks=[too_long])
    )
    assert error.response["error"] == "invalid_blocks"
    assert error.response["response_metadata"]["messages"] == [
        "[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
    ]
    fields = {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}
    error = await expect_error(client.chat_postMessage(channel=GENERAL, text="t", blocks=[fields]))
    assert "no more than 10 items" in error.response["response_metadata"]["messages"][0]
    with pytest.warns(UserWarning, match="`text` argument is missing"):
        error = await expect_error(client.chat_postMessage(channel=GENERAL))
    assert error.response["error"] == "no_text"
    assert slack.messages_in(GENERAL) == []


async def test_unknown_method(client: AsyncWebClient) -> None:
    error = await expect_error(
        client.api_call("conversations.archive", params={"channel": GENERAL})
    )
    assert error.response["error"] == "unknown_method"


async def test_reads_query_form_and_json_bodies_and_the_token_field(slack: SlackStandIn) -> None:
    bearer = {"Authorization": f"Bearer {slack.bot_token}"}
    async with httpx.AsyncClient(base_url=slack.url) as http:
        form = await http.post("/api/auth.test", data={"token": slack.bot_token})
        query = await http.get("/api/users.info", params={"user": BOB}, headers=bearer)
        blocks = json.dumps([SECTION])
        posted = await http.post(
            "/api/chat.postMessage", data={"channel": GENERAL, "blocks": blocks}, headers=bearer
        )
        as_json = await http.post(
            "/api/chat.postMessage", json={"channel": GENERAL, "text": "json"}, headers=bearer
        )
        wrong = await http.post("/api/auth.test", data={"token": "xoxb-nope"})
    assert form.json()["ok"] and query.json()["user"]["name"] == "bob"
    assert posted.json()["ok"] and as_json.json()["ok"]
    assert [m.blocks for m in slack.messages_in(GENERAL)] == [[SECTION], []]
    assert wrong.json() == {"ok": False, "error": "invalid_auth"}
    assert all("token" not in call.args for call in slack.calls)


async def test_a_together_fault_answers_once_that_many_calls_are_in_flight(
    client: AsyncWebClient, slack: SlackStandIn
) -> None:
    slack.faults.append(ApiFault("chat.postMessage", error="", delay=60, together=3, times=3))
    first = asyncio.ensure_future(client.chat_postMessage(channel=GENERAL, text="one"))
    await slack.wait_for(lambda: slack.in_flight["chat.postMessage"] == 1)
    assert not first.done()  # held: the others have not arrived
    others = [client.chat_postMessage(channel=GENERAL, text=t) for t in ("two", "three")]
    await asyncio.gather(first, *others)  # the third releases all three
    assert slack.peak_in_flight["chat.postMessage"] == 3
    assert slack.in_flight["chat.postMessage"] == 0


async def test_conversations_members_pages_public_channels_and_hides_private_ones_until_invited(
    client: AsyncWebClient, slack: SlackStandIn
) -> None:
    first = await client.conversations_members(channel=GENERAL, limit=2)
    rest = await client.conversations_members(
        channel=GENERAL, cursor=first["response_metadata"]["next_cursor"]
    )
    assert ALICE in [*first["members"], *rest["members"]] and len(first["members"]) == 2
    assert rest["response_metadata"]["next_cursor"] == ""
    slack.add_channel("C0PRIVATE0", "secret-ops", private=True, members=[BOB])
    # A private channel the bot is not in does not exist for it: Slack says channel_not_found.
    error = await expect_error(client.conversations_members(channel="C0PRIVATE0"))
    assert error.response["error"] == "channel_not_found"
    error = await expect_error(client.chat_postMessage(channel="C0PRIVATE0", text="hi"))
    assert error.response["error"] == "channel_not_found"
    slack.invite_bot("C0PRIVATE0")  # /invite @bot
    members = await client.conversations_members(channel="C0PRIVATE0")
    assert set(members["members"]) == {BOB, BOT}
    assert (await client.chat_postMessage(channel="C0PRIVATE0", text="hi"))["ok"]
