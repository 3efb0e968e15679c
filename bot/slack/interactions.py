"""The one way in: every slash command, button, menu, view submission and options request.

Each Slack payload is parsed once into an `Interaction` (who, where it came from, where to answer),
and every piece of work runs through `Interactions.run`, which claims the interaction's idempotency
key, runs the work, releases the key if it failed before writing anything to ServiceNow, and explains any refusal or error to the right
place: the App Home (republished with a notice), the `response_url` of the message or command, or an
ephemeral message (a DM when there is no channel). Listeners register through `on_*` here, so none
of them handles acks, keys or errors on its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.feed.messenger import Messenger
from bot.slack.explain import explain
from bot.slack.kit import Block, Card, notice
from servicenow.client import tracking_writes
from storage import IdempotencyKeys

log = logging.getLogger(__name__)

Kind = Literal["command", "action", "view", "options"]
# Where it came from: a channel or DM message (or command), an ephemeral message (a list only the
# person sees), the App Home tab, or a modal (a form opened from one of those).
Origin = Literal["channel", "dm", "ephemeral", "home", "modal"]
Values = dict[str, dict[str, dict[str, Any]]]
Work = Callable[[], Awaitable[str | None]]  # returns a confirmation for the person, or None


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

    # -- parsing ----------------------------------------------------------------------------------

    @classmethod
    def of_command(cls, command: Mapping[str, Any]) -> Interaction:
        channel = str(command.get("channel_id") or "")
        return cls(
            "command",
            str(command.get("command") or ""),
            str(command["user_id"]),
            "dm" if channel.startswith("D") else "channel",
            channel=channel or None,
            response_url=str(command.get("response_url") or "") or None,
            trigger_id=str(command.get("trigger_id") or "") or None,
            value=str(command.get("text") or ""),
        )

    @classmethod
    def of_action(cls, body: Mapping[str, Any]) -> Interaction:
        action: Mapping[str, Any] = (body.get("actions") or [{}])[0]
        selected = action.get("selected_option") or {}
        container = body.get("container") or {}
        channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id") or "")
        origin: Origin
        if container.get("type") == "view":
            origin = "home" if (body.get("view") or {}).get("type") == "home" else "modal"
        elif container.get("is_ephemeral"):
            origin = "ephemeral"
        else:
            origin = "dm" if channel.startswith("D") else "channel"
        return cls(
            "action",
            str(action.get("action_id") or ""),
            str(body["user"]["id"]),
            origin,
            channel=channel or None,
            response_url=str(body.get("response_url") or "") or None,
            trigger_id=str(body.get("trigger_id") or "") or None,
            value=str(selected.get("value") or action.get("value") or ""),
            block_id=str(action.get("block_id") or ""),
        )

    @classmethod
    def of_view(cls, body: Mapping[str, Any]) -> Interaction:
        view = body["view"]
        metadata = _metadata(view.get("private_metadata"))
        carried = metadata.get("origin", "")
        origin: Origin = (
            "home" if carried == "home" else "ephemeral" if carried == "ephemeral" else "modal"
        )
        return cls(
            "view",
            str(view.get("callback_id") or ""),
            str(body["user"]["id"]),
            origin,
            channel=metadata.get("channel") or None,
            response_url=metadata.get("response_url") or None,
            view_id=str(view.get("id") or ""),
            metadata=metadata,
            values=(view.get("state") or {}).get("values") or {},
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
        return None

    @property
    def record(self) -> str:
        """The record a button or menu is about (values are `<sys_id>` or `<sys_id>:<more>`)."""
        return self.value.partition(":")[0]

    def carry(self) -> dict[str, str]:
        """What a modal opened from here keeps in its metadata, so its answer goes back here."""
        carried = {"origin": self.origin, "channel": self.channel or ""}
        if self.origin == "ephemeral" and self.response_url:
            carried["response_url"] = self.response_url
        return carried

    def text(self, block_id: str) -> str:
        """A text input's value in a submitted view, stripped; "" when empty or absent."""
        return str((self.values.get(block_id, {}).get("value") or {}).get("value") or "").strip()

    def selected(self, block_id: str, action_id: str = "value") -> str:
        """A select's chosen value in a submitted view; "" when nothing is chosen."""
        chosen = (self.values.get(block_id, {}).get(action_id) or {}).get("selected_option") or {}
        return str(chosen.get("value") or "")


def _metadata(raw: object) -> dict[str, str]:
    """A view's private_metadata (a JSON object of strings); {} if absent or malformed."""
    try:
        data = json.loads(raw) if isinstance(raw, str) and raw else {}
    except json.JSONDecodeError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


HomePublisher = Callable[[str, str | None], Awaitable[None]]


class Interactions:
    """Runs every interaction's work the same way; see the module docstring."""

    def __init__(self, app: AsyncApp, keys: IdempotencyKeys, messenger: Messenger) -> None:
        self.app = app
        self._keys = keys
        self._messenger = messenger
        self.home: HomePublisher | None = None  # set when the Home tab is installed

    async def run(self, interaction: Interaction, work: Work, *, once: bool = False) -> None:
        key = interaction.key if once else None
        if key and not await self._keys.claim(key):
            log.info("ignoring a repeat of %s", key)
            return
        with tracking_writes() as writes:
            try:
                answer = await work()
            except Exception as exc:
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
                await self.tell(interaction, explain(exc, writes))
                return
        if answer:
            await self.tell(interaction, answer)
        elif interaction.kind == "view" and interaction.origin == "home" and self.home:
            await self.home(interaction.user, None)  # the Home shows what the person just did

    async def tell(self, interaction: Interaction, text: str) -> None:
        """A one-line answer for the person only, where they are; never raises."""
        try:
            if interaction.origin == "home" and self.home:
                await self.home(interaction.user, text)
            elif interaction.response_url:
                await AsyncWebhookClient(interaction.response_url).send(
                    text=text, response_type="ephemeral", replace_original=False
                )
            else:
                await self._messenger.ephemeral(interaction.channel, interaction.user, notice(text))
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
        handler: Callable[[Interaction], Awaitable[str | None]],
        *,
        once: bool | Callable[[Interaction], bool] = False,
    ) -> None:
        """A button or menu: ack at once, then `handler`. With `once` (or when `once(interaction)`
        says so) a double click on one version of a card acts once; opening a form never needs it."""

        @self.app.action(action_id)
        async def listener(ack: AsyncAck, body: dict[str, Any]) -> None:
            await ack()
            interaction = Interaction.of_action(body)
            keyed = once(interaction) if callable(once) else once
            await self.run(interaction, lambda: handler(interaction), once=keyed)

    def on_link(self, action_id: str) -> None:
        """A link button: Slack opens the URL itself but still tells the app, which must ack."""

        @self.app.action(action_id)
        async def listener(ack: AsyncAck) -> None:
            await ack()

    def on_view(
        self,
        callback_id: str,
        check: Callable[[Interaction], Mapping[str, str]],
        handler: Callable[[Interaction], Awaitable[str | None]],
    ) -> None:
        """A modal submission: field errors from `check` go back into the form; otherwise ack,
        then `handler`, once per view (a double submit or a retry is one)."""

        @self.app.view(callback_id)
        async def listener(ack: AsyncAck, body: dict[str, Any]) -> None:
            interaction = Interaction.of_view(body)
            errors = check(interaction)
            if errors:
                await ack(response_action="errors", errors=dict(errors))
                return
            await ack()
            await self.run(interaction, lambda: handler(interaction), once=True)

    def on_options(
        self, action_id: str, options: Callable[[str], Awaitable[list[Block]]], deadline: float
    ) -> None:
        """Typeahead options, inside Slack's 3 s: an empty list rather than a time-out or an error."""

        @self.app.options(action_id)
        async def listener(ack: AsyncAck, body: dict[str, Any]) -> None:
            try:
                found = await asyncio.wait_for(options(str(body.get("value") or "")), deadline)
            except Exception as exc:
                log.info("%s options failed: %r", action_id, exc)
                found = []
            await ack(options=found)
