"""The one way in: every slash command, button, menu, view submission and options request.

Each Slack payload is parsed once into an `Interaction` (who, where it came from, where to answer),
and every piece of work runs through `Interactions.run`, which claims the interaction's idempotency
key, checks the entry's declared `Need` (bot/permissions.py: the person's account, the record
fetched once with the person's own ServiceNow client, the policy the mode set) before the work
makes any other ServiceNow call for the person, runs the work with the `Grant`, releases the key if
it failed before writing anything to ServiceNow, and explains any refusal or error (ServiceNow's
ACL refusals of calls made as the person as refusals, like the table's own) to the right
place: the App Home (republished with a notice), the `response_url` of the message or command, or an
ephemeral message (a DM when there is no channel). Listeners register through `on_*` here, so none
of them handles acks, keys or errors on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient
from starlette.requests import Request
from starlette.responses import Response

from bot.feed.messenger import Messenger
from bot.permissions import Grant, Guard, Need
from bot.slack.explain import Refusal, explain
from bot.slack.kit import Block, Card, notice
from bot.slack.modals import open_modal
from servicenow.client import tracking_writes
from storage import IdempotencyKeys

log = logging.getLogger(__name__)

Kind = Literal["command", "action", "view", "options", "shortcut", "event"]
# Where it came from: a channel or DM message (or command), an ephemeral message (a list only the
# person sees), the App Home tab, or a modal (a form opened from one of those).
Origin = Literal["channel", "dm", "ephemeral", "home", "modal"]
Values = dict[str, dict[str, dict[str, Any]]]


@dataclass(frozen=True)
class Interaction:
    kind: Kind
    id: str  # the command, action_id, callback_id or options action_id
    user: str
    origin: Origin
    channel: str | None = None
    response_url: str | None = None
    trigger_id: str | None = None
    value: str = ""  # the command's text, the button's value or the chosen option's
    block_id: str = ""
    view_id: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)  # a submitted view's
    values: Values = field(default_factory=dict)  # a submitted view's inputs
    message: Mapping[str, Any] = field(default_factory=dict)  # a message shortcut's message
    ts: str = ""  # an event's message

    # -- parsing ----------------------------------------------------------------------------------

    @classmethod
    def of_command(cls, command: Mapping[str, Any]) -> Interaction:
        """A slash command's form; never raises (a field missing or of another type is empty)."""
        command = _object(command)
        channel = _text(command.get("channel_id"))
        return cls(
            "command",
            _text(command.get("command")),
            _text(command.get("user_id")),
            "dm" if channel.startswith("D") else "channel",
            channel=channel or None,
            response_url=_text(command.get("response_url")) or None,
            trigger_id=_text(command.get("trigger_id")) or None,
            value=_text(command.get("text")),
        )

    @classmethod
    def of_action(cls, body: Mapping[str, Any]) -> Interaction:
        """A block_actions payload; never raises (no `actions` is an action with no id)."""
        body = _object(body)
        found = body.get("actions")
        action = _object(found[0] if isinstance(found, list) and found else None)
        selected = _object(action.get("selected_option"))
        container = _object(body.get("container"))
        channel = _text(container.get("channel_id")) or _text(
            _object(body.get("channel")).get("id")
        )
        origin: Origin
        if container.get("type") == "view":
            home = _object(body.get("view")).get("type") == "home"
            origin = "home" if home else "modal"
        elif container.get("is_ephemeral") is True:
            origin = "ephemeral"
        else:
            origin = "dm" if channel.startswith("D") else "channel"
        return cls(
            "action",
            _text(action.get("action_id")),
            _text(_object(body.get("user")).get("id")),
            origin,
            channel=channel or None,
            response_url=_text(body.get("response_url")) or None,
            trigger_id=_text(body.get("trigger_id")) or None,
            value=_text(selected.get("value")) or _text(action.get("value")),
            block_id=_text(action.get("block_id")),
            # An action in a modal or App Home: the view it is in (views.update rewrites it).
            view_id=_text(container.get("view_id")) if container.get("type") == "view" else "",
        )

    @classmethod
    def of_message(cls, event: Mapping[str, Any], what: str, text: str) -> Interaction:
        """A message event (`what`: message, message_changed:<edit ts>, app_mention, …);
        never raises."""
        event = _object(event)
        channel = _text(event.get("channel"))
        return cls(
            "event",
            what,
            _text(event.get("user")),
            "dm" if channel.startswith("D") else "channel",
            channel=channel or None,
            value=text,
            ts=_text(event.get("ts")),
        )

    @classmethod
    def of_view(cls, body: Mapping[str, Any]) -> Interaction:
        """A view submission; never raises. Its private_metadata only says where the form was
        opened from; a `response_url` in it is never read: only what Slack signed is trusted to
        answer to."""
        body = _object(body)
        view = _object(body.get("view"))
        metadata = _metadata(view.get("private_metadata"))
        carried = metadata.get("origin", "")
        origin: Origin = (
            "home" if carried == "home" else "ephemeral" if carried == "ephemeral" else "modal"
        )
        return cls(
            "view",
            _text(view.get("callback_id")),
            _text(_object(body.get("user")).get("id")),
            origin,
            channel=metadata.get("channel") or None,
            view_id=_text(view.get("id")),
            metadata=metadata,
            values=_values(_object(view.get("state")).get("values")),
        )

    @classmethod
    def of_message_shortcut(cls, body: Mapping[str, Any]) -> Interaction:
        """A message shortcut (`type: message_action`); never raises."""
        body = _object(body)
        channel = _text(_object(body.get("channel")).get("id"))
        return cls(
            "shortcut",
            _text(body.get("callback_id")),
            _text(_object(body.get("user")).get("id")),
            "dm" if channel.startswith("D") else "channel",
            channel=channel or None,
            response_url=_text(body.get("response_url")) or None,
            trigger_id=_text(body.get("trigger_id")) or None,
            message=dict(_object(body.get("message"))),
        )

    # -- what it means ------------------------------------------------------------------------------

    @property
    def key(self) -> str | None:
        """The idempotency key: a Slack retry or a double click has the same one."""
        if self.kind == "command":
            return f"command:{self.trigger_id}" if self.trigger_id else None
        if self.kind == "action":
            return ":".join(["action", self.user, self.id, self.block_id, self.value])
        if self.kind == "view":
            return f"view:{self.view_id}"
        if self.kind == "event":
            # A message acts once, however often Slack delivers it (X-Slack-Retry-Num).
            return f"event:{self.id}:{self.channel}:{self.ts}" if self.ts else None
        return None

    @property
    def record(self) -> str:
        """The record a button or menu is about (values are `<sys_id>` or `<sys_id>:<more>`)."""
        return self.value.partition(":")[0]

    def carry(self) -> dict[str, str]:
        """What a modal opened from here keeps in its metadata, so its answer goes back here
        (the surface and channel only: its submission is answered in the channel, never through
        a response_url kept in the metadata, which Slack does not sign)."""
        return {"origin": self.origin, "channel": self.channel or ""}

    def text(self, block_id: str) -> str:
        """A text input's value in a submitted view, stripped; "" when empty or absent."""
        return _text(_object(self.values.get(block_id, {}).get("value")).get("value")).strip()

    def selected(self, block_id: str, action_id: str = "value") -> str:
        """A select's chosen value in a submitted view; "" when nothing is chosen."""
        chosen = _object(
            _object(self.values.get(block_id, {}).get(action_id)).get("selected_option")
        )
        return _text(chosen.get("value"))


# -- reading what Slack sent: never an exception, whatever arrives ----------------------------------


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str:
    """A string field; "" when absent or not a string (or a number: ids and values are strings)."""
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else ""


def _values(raw: object) -> Values:
    """A submitted view's state.values: {block_id: {action_id: element state}}, objects only."""
    return {
        str(block_id): {
            str(action_id): dict(state)
            for action_id, state in _object(actions).items()
            if isinstance(state, Mapping)
        }
        for block_id, actions in _object(raw).items()
    }


def _metadata(raw: object) -> dict[str, str]:
    """A view's private_metadata (a JSON object of strings); {} if absent or malformed."""
    try:
        data = json.loads(raw) if isinstance(raw, str) and raw else {}
    except (ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}


# The shapes Bolt's own matchers index into without checking (slack_bolt/request/payload_utils.py).
_NEEDS: dict[str, tuple[str, type]] = {
    "block_actions": ("actions", list),
    "view_submission": ("view", dict),
    "view_closed": ("view", dict),
    "event_callback": ("event", dict),
}


def readable(body: object) -> bool:
    """Whether a signed request is one Bolt can route: what it must have, of the right type."""
    if not isinstance(body, dict):
        return False
    if "user" in body and not isinstance(body["user"], dict | str):
        return False
    need = _NEEDS.get(str(body.get("type") or ""))
    if need is None:
        return True
    value = body.get(need[0])
    if not isinstance(value, need[1]) or not value:
        return False
    if isinstance(value, list):
        return all(isinstance(item, dict) for item in value)
    return isinstance(value, dict) and isinstance(value.get("type"), str)


class DropUnreadable(AsyncMiddleware):
    """A signed payload Bolt could not route (its matchers would raise) is acked and dropped: a
    200 with nothing in it, as for any request no listener wants; never a 500. A class, not a
    function: Bolt builds a function middleware's arguments with the same unchecked indexing."""

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        if readable(req.body):
            return await next()
        log.info("dropping a signed request Slack would not send: %.200r", req.body)
        return BoltResponse(status=200, body="")


async def handle_http(
    handle: Callable[[Request], Awaitable[Response]], request: Request
) -> Response:
    """`POST /slack/events` through `handle` (Bolt, or the front); a body that cannot even be
    parsed (a `payload` that is not a JSON object) is a 400, before anything reads it."""
    try:
        return await handle(request)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError) as exc:
        log.info(
            "refusing a /slack/events body that is not a Slack payload (%s)", type(exc).__name__
        )
        return Response(status_code=400)


T = TypeVar("T")
Work = Callable[[Grant[T]], Awaitable[str | None]]  # returns a confirmation for the person, or None
Handler = Callable[[Interaction, Grant[T]], Awaitable[str | None]]
Needs = Callable[[Interaction], Need[T]]  # what an entry needs, for this interaction
HomePublisher = Callable[[str, str | None], Awaitable[None]]


class Interactions:
    """Runs every interaction's work the same way; see the module docstring."""

    def __init__(
        self, app: AsyncApp, keys: IdempotencyKeys, messenger: Messenger, guard: Guard
    ) -> None:
        self.app = app
        self.guard = guard
        self._keys = keys
        self._messenger = messenger
        self.home: HomePublisher | None = None  # set when the Home tab is installed
        app.use(DropUnreadable())  # after Bolt's signature check, before any listener matches

        @app.event("user_change")
        async def profile_changed(event: dict[str, Any]) -> None:
            # Bolt acks events itself. A changed e-mail, a deactivation: whoever this is now is
            # asked of Slack and ServiceNow again on their next command or click.
            user = _object(event.get("user"))
            slack_user_id = _text(user.get("id"))
            if not slack_user_id:
                return
            guard.forget(await guard.identity.forget(slack_user_id))
            with contextlib.suppress(Refusal):  # who they are now, remembered for next time
                await guard.identity.person(slack_user_id)

    async def run(
        self,
        interaction: Interaction,
        need: Need[T],
        work: Work[T],
        *,
        once: bool = False,
        key: str | None = None,
    ) -> None:
        """`need` checked for the person (a refusal is explained, nothing done), then `work`.
        `key`: the idempotency key instead of the interaction's own (acting once across several
        buttons: choices of which only one may be taken)."""
        key = key or (interaction.key if once else None)
        if key and not await self._keys.claim(key):
            log.info("ignoring a repeat of %s", key)
            return
        grant: Grant[T] | None = None
        with tracking_writes() as writes:
            try:
                grant = await self.guard.require(interaction.user, need)
                answer = await work(grant)
            except Exception as exc:
                # ServiceNow's own refusal of a call made as the person: explained as a refusal.
                exc = await self.guard.translate(exc, need.action, grant)
                # After a write that landed or may have, a retry must not act again: keep the key.
                if key and not writes:
                    await self._keys.release(key)
                log.info(
                    "%s %s failed for %s (writes %s): %r",
                    interaction.kind,
                    interaction.id,
                    interaction.user,
                    writes,
                    exc,
                )
                await self.tell(interaction, explain(exc, writes), _blocks(exc, writes))
                return
        if answer:
            await self.tell(interaction, answer)
        elif interaction.kind == "view" and interaction.origin == "home" and self.home:
            await self.home(interaction.user, None)  # the Home shows what the person just did

    async def tell(
        self, interaction: Interaction, text: str, blocks: tuple[Block, ...] = ()
    ) -> None:
        """A one-line answer for the person only, where they are; never raises. `blocks` (a
        refusal's button) go with it, except on the Home tab, which shows its own."""
        try:
            if interaction.origin == "home" and self.home:
                await self.home(interaction.user, text)
            elif interaction.response_url:
                await AsyncWebhookClient(interaction.response_url).send(
                    text=text,
                    blocks=list(blocks) or None,
                    response_type="ephemeral",
                    replace_original=False,
                )
            else:
                card = Card(text, blocks) if blocks else notice(text)
                await self._messenger.ephemeral(interaction.channel, interaction.user, card)
        except Exception:
            log.exception("could not tell %s about %s", interaction.user, interaction.id)

    async def reply(self, interaction: Interaction, card: Card, *, replace: bool = False) -> None:
        """A card for the person only, through the response_url (replacing the message, or not)."""
        if not interaction.response_url:
            await self._messenger.ephemeral(interaction.channel, interaction.user, card)
            return
        body: dict[str, Any] = {"text": card.text, "blocks": list(card.blocks)}
        if replace:
            body["replace_original"] = True
        else:
            body |= {"response_type": "ephemeral", "replace_original": False}
        await AsyncWebhookClient(interaction.response_url).send_dict(body)

    # -- registering listeners -----------------------------------------------------------------------

    def on_action(
        self,
        action_id: str,
        handler: Handler[T],
        *,
        need: Needs[T],
        once: bool | Callable[[Interaction], bool] = False,
        key: Callable[[Interaction], str] | None = None,
    ) -> None:
        """A button or menu: ack at once, check `need`, then `handler`. With `once` (or when
        `once(interaction)` says so) a double click on one version of a card acts once; with
        `key`, every interaction with the same key acts once (and the first one only)."""

        @self.app.action(action_id)
        async def listener(ack: AsyncAck, body: dict[str, Any]) -> None:
            await ack()
            interaction = Interaction.of_action(body)
            keyed = once(interaction) if callable(once) else once
            await self.run(
                interaction,
                need(interaction),
                lambda g: handler(interaction, g),
                once=keyed,
                key=key(interaction) if key else None,
            )

    def on_message_shortcut(
        self,
        callback_id: str,
        title: str,
        view: Callable[[Interaction, Grant[T]], Awaitable[dict[str, Any]]],
        *,
        need: Needs[T],
    ) -> None:
        """A message shortcut that opens a form, as `on_form`: the modal opens inside the
        trigger's 3 s, `need` checked before `view` builds it; a refusal is told to the person.
        Opening a form changes nothing, so a Slack retry needs no key (its trigger is spent)."""

        @self.app.message_shortcut(callback_id)
        async def listener(ack: AsyncAck, body: dict[str, Any]) -> None:
            await ack()
            await self._open_form(
                Interaction.of_message_shortcut(body), callback_id, title, view, need
            )

    async def _open_form(
        self,
        interaction: Interaction,
        name: str,
        title: str,
        view: Callable[[Interaction, Grant[T]], Awaitable[dict[str, Any]]],
        need: Needs[T],
    ) -> None:
        """Open the modal inside the trigger's 3 s, `need` checked before `view` builds it; a
        refusal is shown in the modal, or told to the person when no modal could open."""

        async def checked() -> dict[str, Any]:
            grant = await self.guard.require(interaction.user, need(interaction))
            return await view(interaction, grant)

        try:
            await open_modal(self.app.client, interaction.trigger_id or "", title, checked())
        except Exception as exc:
            log.info("%s could not open its form: %r", name, exc)
            await self.tell(interaction, explain(exc), _blocks(exc, ()))

    def on_form(
        self,
        action_id: str,
        title: str,
        view: Callable[[Interaction, Grant[T]], Awaitable[dict[str, Any]]],
        *,
        need: Needs[T],
    ) -> None:
        """A button that opens a form: the modal opens inside the trigger's 3 s ("Loading…" first
        when ServiceNow is slow), and `need` is checked before `view` builds it; a refusal is
        shown in the modal instead."""

        @self.app.action(action_id)
        async def listener(ack: AsyncAck, body: dict[str, Any]) -> None:
            await ack()
            await self._open_form(Interaction.of_action(body), action_id, title, view, need)

    def on_link(self, action_id: str) -> None:
        """A link button: Slack opens the URL itself but still tells the app, which must ack."""

        @self.app.action(action_id)
        async def listener(ack: AsyncAck) -> None:
            await ack()

    def on_view(
        self,
        callback_id: str,
        check: Callable[[Interaction], Mapping[str, str]],
        handler: Handler[T],
        *,
        need: Needs[T],
    ) -> None:
        """A modal submission: field errors from `check` go back into the form; otherwise ack,
        check `need`, then `handler`, once per view (a double submit or a retry is one)."""

        @self.app.view(callback_id)
        async def listener(ack: AsyncAck, body: dict[str, Any]) -> None:
            interaction = Interaction.of_view(body)
            errors = check(interaction)
            if errors:
                await ack(response_action="errors", errors=dict(errors))
                return
            await ack()
            await self.run(
                interaction, need(interaction), lambda g: handler(interaction, g), once=True
            )

    def on_options(
        self, action_id: str, options: Callable[[str], Awaitable[list[Block]]], deadline: float
    ) -> None:
        """Typeahead options, inside Slack's 3 s: an empty list rather than a time-out or an error
        (and for someone without a ServiceNow account, who sees nothing)."""

        @self.app.options(action_id)
        async def listener(ack: AsyncAck, body: dict[str, Any]) -> None:
            user = _text(_object(body.get("user")).get("id"))

            async def allowed() -> list[Block]:
                await self.guard.identity.person(user)
                return await options(str(body.get("value") or ""))

            try:
                found = await asyncio.wait_for(allowed(), deadline)
            except Exception as exc:
                log.info("%s options failed: %r", action_id, exc)
                found = []
            await ack(options=found)


def _blocks(exc: Exception, writes: object) -> tuple[Block, ...]:
    """A refusal's own blocks (say, a Connect ServiceNow button), when nothing was written."""
    return exc.blocks if isinstance(exc, Refusal) and not writes else ()
