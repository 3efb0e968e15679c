"""Modals and the Home tab: trigger_ids, the view stack, hashes, and view submissions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from starlette.responses import JSONResponse

from sandbox.slack import SlackStandIn, View
from sandbox.slack.records import ALICE, BOB

if TYPE_CHECKING:
    from tests.sandbox_slack.conftest import FakeBot

Load = Callable[[str], Any]


def modal(title: str = "New incident", **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "incident_new",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Open"},
        "blocks": [
            {
                "type": "input",
                "block_id": "summary",
                "label": {"type": "plain_text", "text": "What is wrong?"},
                "element": {"type": "plain_text_input", "action_id": "text"},
            },
            {
                "type": "section",
                "block_id": "more",
                "text": {"type": "mrkdwn", "text": "Need more?"},
                "accessory": {
                    "type": "button",
                    "action_id": "more_details",
                    "text": {"type": "plain_text", "text": "More"},
                },
            },
        ],
        **extra,
    }


HOME = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}]}


async def command_trigger(slack: SlackStandIn, bot: FakeBot, user: str = ALICE) -> str:
    await slack.send_command(user, "")
    return bot.received[-1].form["trigger_id"]


async def slack_error(call: Awaitable[Any]) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


async def open_modal(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient, **extra: Any
) -> View:
    response = await client.views_open(
        trigger_id=await command_trigger(slack, bot), view=modal(**extra)
    )
    return slack.views[response["view"]["id"]]


async def test_views_open_with_a_fresh_trigger_opens_a_modal_for_that_user(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient, fixture_json: Load
) -> None:
    trigger = await command_trigger(slack, bot)
    response = await client.views_open(trigger_id=trigger, view=modal())
    shown = response["view"]
    home_view = fixture_json("block_actions.docs.home_tab.json")["view"]
    assert set(shown) == set(home_view) | {"title"}
    view = slack.views[shown["id"]]
    assert (view.user, view.type, view.root_view_id, view.previous_view_id) == (
        ALICE,
        "modal",
        view.id,
        None,
    )
    assert shown["hash"] == view.hash and shown["callback_id"] == "incident_new"
    assert slack.current_modal(ALICE) is view


async def test_a_trigger_works_once(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient, fixture_json: Load
) -> None:
    trigger = await command_trigger(slack, bot)
    await client.views_open(trigger_id=trigger, view=modal())
    error = await slack_error(client.views_open(trigger_id=trigger, view=modal()))
    assert error.response.data == fixture_json("errors/exchanged_trigger_id.json")
    assert error.response.status_code == 200


async def test_a_trigger_expires_after_three_seconds(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient, fixture_json: Load
) -> None:
    trigger = await command_trigger(slack, bot)
    issued = slack.triggers[trigger].issued_at
    slack.clock = lambda: issued + 3.01
    error = await slack_error(client.views_open(trigger_id=trigger, view=modal()))
    assert error.response.data == fixture_json("errors/expired_trigger_id.json")
    assert slack.views == {}


async def test_an_unknown_trigger_is_invalid(client: AsyncWebClient) -> None:
    error = await slack_error(client.views_open(trigger_id="123.456.abc", view=modal()))
    assert error.response.data == {"ok": False, "error": "invalid_trigger_id"}


async def test_a_modal_over_slack_limits_is_refused(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient
) -> None:
    trigger = await command_trigger(slack, bot)
    error = await slack_error(client.views_open(trigger_id=trigger, view=modal("x" * 25)))
    assert error.response["error"] == "invalid_arguments"
    assert error.response["response_metadata"]["messages"] == [
        "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"
    ]


async def test_views_update_by_id_or_external_id_and_hash_conflicts(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient
) -> None:
    view = await open_modal(slack, bot, client, external_id="incident-new-1")
    first_hash = view.hash
    loading = modal("Loaded", external_id="incident-new-1")
    await client.views_update(view_id=view.id, hash=first_hash, view=loading)
    assert view.view["title"]["text"] == "Loaded" and view.hash != first_hash
    assert view.history[0]["title"]["text"] == "New incident"

    error = await slack_error(client.views_update(view_id=view.id, hash=first_hash, view=modal()))
    assert error.response["error"] == "hash_conflict"
    await client.views_update(external_id="incident-new-1", view=modal("By external id"))
    assert view.view["title"]["text"] == "By external id"
    error = await slack_error(client.views_update(view_id="V0NOPE", view=modal()))
    assert error.response["error"] == "not_found"


async def test_views_push_stacks_at_most_three_modals(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient
) -> None:
    root = await open_modal(slack, bot, client)
    for _ in range(2):
        top = slack.current_modal(ALICE)
        assert top is not None
        await slack.send_block_action(ALICE, action_id="more_details", view=top)
        trigger = bot.received[-1].payload["trigger_id"]
        await client.views_push(trigger_id=trigger, view=modal("Details"))
    stack = slack.view_stack(ALICE)
    assert [v.previous_view_id for v in stack] == [None, stack[0].id, stack[1].id]
    assert {v.root_view_id for v in stack} == {root.id}

    await slack.send_block_action(ALICE, action_id="more_details", view=stack[-1])
    trigger = bot.received[-1].payload["trigger_id"]
    error = await slack_error(client.views_push(trigger_id=trigger, view=modal("Too deep")))
    assert error.response["error"] == "push_limit_reached"


async def test_block_action_in_a_view_has_a_view_container_and_no_response_url(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient, fixture_json: Load
) -> None:
    view = await open_modal(slack, bot, client)
    await slack.send_block_action(ALICE, action_id="more_details", view=view)
    payload = bot.received[-1].payload
    expected = fixture_json("block_actions.docs.home_tab.json")
    assert set(expected) <= set(payload) and "response_url" not in payload
    assert payload["container"] == {"type": "view", "view_id": view.id}
    assert payload["view"]["id"] == view.id and payload["view"]["hash"] == view.hash
    assert payload["actions"][0]["block_id"] == "more"


async def test_views_publish_keeps_one_home_per_user(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    first = await client.views_publish(user_id=ALICE, view=HOME)
    again = await client.views_publish(user_id=ALICE, view=HOME, hash=first["view"]["hash"])
    bobs = await client.views_publish(user_id=BOB, view=HOME)
    assert first["view"]["id"] == again["view"]["id"] != bobs["view"]["id"]
    home = slack.home_view(ALICE)
    assert home is not None and home.type == "home" and home.hash == again["view"]["hash"]
    stale = await slack_error(
        client.views_publish(user_id=ALICE, view=HOME, hash=first["view"]["hash"])
    )
    assert stale.response["error"] == "hash_conflict"
    wrong = await slack_error(client.views_publish(user_id=ALICE, view=modal()))
    assert wrong.response["error"] == "invalid_arguments"
    assert slack.app_home_opened(ALICE)["view"]["id"] == home.id


VALUES = {"summary": {"text": {"type": "plain_text_input", "value": "printer on fire"}}}


async def test_view_submission_has_the_fixture_shape_and_an_empty_ack_closes_the_modal(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient, fixture_json: Load
) -> None:
    view = await open_modal(slack, bot, client)
    reply = await slack.send_view_submission(ALICE, view.id, VALUES)
    received = bot.received[-1]
    assert reply.status == 200 and received.valid and list(received.form) == ["payload"]
    payload = received.payload
    expected = fixture_json("view_submission.docs.json")
    assert set(expected) <= set(payload)
    assert set(expected["view"]) <= set(payload["view"])
    assert payload["view"]["state"]["values"] == VALUES
    assert payload["view"]["callback_id"] == "incident_new"
    assert view.closed and slack.current_modal(ALICE) is None


async def test_view_submission_errors_keep_the_modal_open_with_the_errors(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient
) -> None:
    view = await open_modal(slack, bot, client)
    errors = {"summary": "Tell us what is wrong"}
    bot.answer = lambda received: JSONResponse({"response_action": "errors", "errors": errors})
    await slack.send_view_submission(ALICE, view.id, VALUES)
    assert view.errors == errors and not view.closed and view.state == VALUES


async def test_view_submission_update_push_and_clear(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient
) -> None:
    view = await open_modal(slack, bot, client)
    bot.answer = lambda r: JSONResponse({"response_action": "update", "view": modal("Step 2")})
    await slack.send_view_submission(ALICE, view.id, VALUES)
    assert view.view["title"]["text"] == "Step 2" and not view.closed

    bot.answer = lambda r: JSONResponse({"response_action": "push", "view": modal("Step 3")})
    await slack.send_view_submission(ALICE, view.id, VALUES)
    pushed = slack.current_modal(ALICE)
    assert pushed is not None and pushed.previous_view_id == view.id

    bot.answer = lambda r: JSONResponse({"response_action": "clear"})
    await slack.send_view_submission(ALICE, pushed.id, VALUES)
    assert view.closed and pushed.closed and slack.view_stack(ALICE) == []
    assert slack.problems == []


async def test_view_submission_answer_with_an_invalid_view_is_a_problem(
    slack: SlackStandIn, bot: FakeBot, client: AsyncWebClient
) -> None:
    view = await open_modal(slack, bot, client)
    bot.answer = lambda r: JSONResponse({"response_action": "update", "view": {"type": "modal"}})
    await slack.send_view_submission(ALICE, view.id, VALUES)
    assert "missing required field: title" in slack.problems[0]
    assert view.view["title"]["text"] == "New incident"
