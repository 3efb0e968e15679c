"""Buttons and menus on cards and lists. Each does what the matching command does, for the clicker."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks
from bot.explain import explain
from bot.listeners.modals import open_modal
from bot.listeners.posting import post_card
from servicenow.records import Incident

if TYPE_CHECKING:
    from bot.app import Services

log = logging.getLogger(__name__)

Change = Callable[[str, str], Awaitable[Incident]]


def register(app: AsyncApp, services: Services) -> None:
    incidents, keys = services.incidents, services.keys

    async def run(
        body: dict[str, Any], respond: AsyncRespond, work: Callable[[], Awaitable[None]]
    ) -> None:
        try:
            await work()
        except Exception as exc:
            log.info("%s failed for %s: %r", _action(body)["action_id"], _user(body), exc)
            if body.get("response_url"):
                await respond(text=explain(exc), response_type="ephemeral", replace_original=False)
            else:  # a button in App Home or a modal: no response_url, so tell them by DM
                await services.messenger.ephemeral(None, _user(body), blocks.notice(explain(exc)))

    async def change_once(body: dict[str, Any], respond: AsyncRespond, change: Change) -> None:
        """Apply a direct change once per click on one version of a card (double clicks are one)."""
        action = _action(body)
        sys_id = _sys_id(action)
        key = ":".join(
            ["action", _user(body), action["action_id"], action.get("block_id", ""), _value(action)]
        )
        if not await keys.claim(key):
            log.info("ignoring a repeated click %s", key)
            return

        async def work() -> None:
            try:
                await change(_user(body), sys_id)  # the feed rewrites every copy of the card
            except Exception:
                await keys.release(key)
                raise

        await run(body, respond, work)

    @app.action("incident_open")
    async def open_in_servicenow(ack: AsyncAck) -> None:
        # A link button: Slack opens the URL itself but still tells the app, which must ack.
        await ack()

    @app.action("incident_assign_me")
    async def assign_to_me(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()

        async def assign(user: str, sys_id: str) -> Incident:
            return await incidents.assign(user, sys_id, "me")

        await change_once(body, respond, assign)

    @app.action("incident_comment")
    async def comment(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        sys_id = _sys_id(_action(body))

        async def form() -> dict[str, Any]:
            incident = await incidents.get(sys_id)
            return blocks.comment_modal(
                incident, public=True, channel=_channel(body), origin=_origin(body)
            )

        await run(body, respond, lambda: open_modal(client, body["trigger_id"], "Comment", form()))

    @app.action("incident_resolve")
    async def resolve(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        await run(body, respond, lambda: _open_resolve(client, body, _sys_id(_action(body))))

    async def _open_resolve(client: AsyncWebClient, body: dict[str, Any], sys_id: str) -> None:
        async def form() -> dict[str, Any]:
            incident = await incidents.get(sys_id)
            codes = await incidents.close_codes()
            return blocks.resolve_modal(incident, codes, _channel(body), origin=_origin(body))

        await open_modal(client, body["trigger_id"], "Resolve", form())

    async def _open_hold(client: AsyncWebClient, body: dict[str, Any], sys_id: str) -> None:
        async def form() -> dict[str, Any]:
            return blocks.hold_modal(
                await incidents.get(sys_id), _channel(body), origin=_origin(body)
            )

        await open_modal(client, body["trigger_id"], "On hold", form())

    @app.action("incident_state")
    async def change_state(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        action = _action(body)
        sys_id, _, target = _value(action).partition(":")
        direct: dict[str, Change] = {
            "2": incidents.start_work,
            "7": incidents.close,
            "8": incidents.cancel,
            "reopen": incidents.reopen,
        }
        if target in direct:
            await change_once(body, respond, direct[target])
        elif target == "3":
            await run(body, respond, lambda: _open_hold(client, body, sys_id))
        elif target == "6":
            await run(body, respond, lambda: _open_resolve(client, body, sys_id))

    @app.action("incident_follow")
    async def follow(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        sys_id = _sys_id(_action(body))

        async def work() -> None:
            person = await services.identity.person(_user(body))
            following = await services.followers.toggle(
                "incident", sys_id, person.slack_user_id, person.sys_user_id
            )
            incident = await incidents.get(sys_id)
            text = (
                f":eyes: You'll get a DM whenever {incident.number} changes. Press *Follow* again to stop."
                if following
                else f"You no longer follow {incident.number}."
            )
            await respond(text=text, response_type="ephemeral", replace_original=False)

        await run(body, respond, work)

    @app.action("incident_reopen")
    async def reopen_from_dm(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()

        async def work() -> None:
            changed = await incidents.reopen(_user(body), _sys_id(_action(body)))
            await respond(
                text=f":leftwards_arrow_with_hook: Reopened {changed.number}; it is In Progress again.",
                response_type="ephemeral",
                replace_original=False,
            )

        key = f"reopen:{_user(body)}:{_action(body).get('block_id', '')}"
        if await keys.claim(key):
            await run(body, respond, work)

    @app.action("incident_post")
    async def post(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        channel = _channel(body)
        sys_id = _sys_id(_action(body))

        async def tell(text: str) -> None:
            await respond(text=text, response_type="ephemeral", replace_original=False)

        async def work() -> None:
            incident, card = await incidents.render(sys_id)
            if channel:
                await post_card(incidents, channel, incident, card, tell)

        await run(body, respond, work)

    @app.action("incident_list_page")
    async def list_page(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        scope, _, page_text = _value(_action(body)).partition(":")
        page = int(page_text) if page_text.isdigit() else 1

        async def work() -> None:
            found, total = await incidents.list_for(_user(body), scope, page)
            urls = [incidents.url(i.sys_id) for i in found]
            card = blocks.incident_list(scope, found, urls, page=page, total=total)
            await respond(text=card.text, blocks=list(card.blocks), replace_original=True)

        await run(body, respond, work)


def _action(body: dict[str, Any]) -> dict[str, Any]:
    action: dict[str, Any] = body["actions"][0]
    return action


def _value(action: dict[str, Any]) -> str:
    selected = action.get("selected_option") or {}
    return str(selected.get("value") or action.get("value") or "")


def _sys_id(action: dict[str, Any]) -> str:
    return _value(action).partition(":")[0]


def _user(body: dict[str, Any]) -> str:
    return str(body["user"]["id"])


def _origin(body: dict[str, Any]) -> str:
    """ "home" for a button in App Home: what it opens republishes the Home when done."""
    return "home" if (body.get("view") or {}).get("type") == "home" else ""


def _channel(body: dict[str, Any]) -> str | None:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    return str(channel) if channel else None
