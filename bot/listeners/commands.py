"""The `/incident` slash command: ack at once, then do the work and answer."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, grammar
from bot.explain import explain
from bot.incidents import split_description
from bot.listeners.approvals import list_pending
from bot.listeners.modals import open_modal
from bot.listeners.posting import post_card
from servicenow.records import Incident

if TYPE_CHECKING:
    from bot.app import Services

log = logging.getLogger(__name__)


def register(app: AsyncApp, services: Services) -> None:
    async def acknowledge(ack: AsyncAck, command: dict[str, Any]) -> None:
        """Answer Slack at once (usage, or a note that work has started); no I/O here."""
        request = grammar.parse(command.get("text", ""))
        if isinstance(request, grammar.Help):
            card = blocks.usage(request.problem)
            await ack(text=card.text, blocks=list(card.blocks), response_type="ephemeral")
        elif isinstance(request, grammar.Create):
            short, _ = split_description(request.text)
            await ack(
                text=f"Opening an incident: {blocks.escape(short)}…", response_type="ephemeral"
            )
        else:
            await ack()

    async def work(command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient) -> None:
        request = grammar.parse(command.get("text", ""))
        if isinstance(request, grammar.Help):
            return
        try:
            await Handler(services, command, respond, client).handle(request)
        except Exception as exc:
            log.info(
                "/incident %r failed for %s: %r", command.get("text"), command.get("user_id"), exc
            )
            await respond(text=explain(exc), response_type="ephemeral")

    @app.command("/incident")
    async def incident_command(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await acknowledge(ack, command)
        await work(command, respond, client)


class Handler:
    """One slash command, after the ack."""

    def __init__(
        self,
        services: Services,
        command: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        self.services = services
        self.incidents = services.incidents
        self.keys = services.keys
        self.user: str = command["user_id"]
        self.channel: str = command["channel_id"]
        self.trigger_id: str = command.get("trigger_id", "")
        self.respond = respond
        self.client = client

    async def tell(self, text: str) -> None:
        await self.respond(text=text, response_type="ephemeral")

    async def handle(self, request: grammar.Request) -> None:
        match request:
            case grammar.Bare():
                await open_modal(self.client, self.trigger_id, "New incident", self._create_form())
            case grammar.Create(text):
                await self.create(text)
            case grammar.Show(number):
                incident = await self.incidents.find(number)
                incident, card = await self.incidents.render(incident.sys_id, incident)
                await post_card(self.incidents, self.channel, incident, card, self.tell)
            case grammar.ListIncidents(scope, page):
                found, total = await self.incidents.list_for(self.user, scope, page)
                card = blocks.incident_list(
                    scope,
                    found,
                    [self.incidents.url(i.sys_id) for i in found],
                    page=page,
                    total=total,
                )
                await self.respond(
                    text=card.text, blocks=list(card.blocks), response_type="ephemeral"
                )
            case grammar.Assign(number, assignee):
                incident = await self.incidents.find(number)
                changed = await self.incidents.assign(self.user, incident.sys_id, assignee)
                who = "you" if assignee in ("me", self.user) else f"<@{assignee}>"
                await self.done(changed, f"Assigned {changed.number} to {who}.")
            case grammar.Comment(number, text, public):
                incident = await self.incidents.find(number)
                changed = await self.incidents.comment(
                    self.user, incident.sys_id, text, public=public
                )
                kind = "comment" if public else "work note"
                await self.done(changed, f"Added your {kind} to {changed.number}.")
            case grammar.Resolve(number):
                await open_modal(
                    self.client, self.trigger_id, f"Resolve {number}", self._resolve_form(number)
                )
            case grammar.Close(number):
                incident = await self.incidents.find(number)
                changed = await self.incidents.close(self.user, incident.sys_id)
                await self.done(changed, f"Closed {changed.number}.")
            case grammar.Reopen(number):
                incident = await self.incidents.find(number)
                changed = await self.incidents.reopen(self.user, incident.sys_id)
                await self.done(changed, f"Reopened {changed.number}; it is In Progress again.")
            case grammar.Hold(number, reason, text):
                incident = await self.incidents.find(number)
                changed = await self.incidents.hold(self.user, incident.sys_id, reason, text)
                await self.done(
                    changed, f"{changed.number} is on hold ({blocks.HOLD_LABELS[reason]})."
                )
            case grammar.Notify(enabled):
                await self.services.identity.person(self.user)
                await self.services.notifications.set_muted(self.user, not enabled)
                if enabled:
                    await self.tell(":bell: DMs about your incidents are on again.")
                else:
                    await self.tell(
                        ":no_bell: No more DMs about incident changes. `/incident notify on` brings them back."
                    )
            case grammar.Approvals():
                await list_pending(self.services.approvals, self.user, self.respond)

    async def create(self, text: str) -> None:
        # A Slack retry of the same command carries the same trigger_id: open one incident only.
        key = f"command:{self.trigger_id}"
        if self.trigger_id and not await self.keys.claim(key):
            log.info("ignoring a repeat of command %s", self.trigger_id)
            return
        try:
            created = await self.incidents.create(
                self.user, text, correlation_id=f"slack:{self.trigger_id}"
            )
        except Exception:
            await self.keys.release(key)
            raise
        if self.channel == self.services.settings.incident_channel:
            return  # the feed announces every new incident there already
        await post_card(self.incidents, self.channel, created.incident, created.card, self.tell)

    async def done(self, incident: Incident, confirmation: str) -> None:
        # The change already went through the feed, which rewrites every copy of the card.
        await self.tell(f":white_check_mark: {confirmation}")

    async def _create_form(self) -> dict[str, Any]:
        return blocks.create_modal(self.channel, await self.incidents.categories())

    async def _resolve_form(self, number: str) -> dict[str, Any]:
        incident = await self.incidents.find(number)
        return blocks.resolve_modal(incident, await self.incidents.close_codes(), self.channel)
