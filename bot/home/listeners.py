"""The App Home tab: published when opened, with Refresh, and after anything done from it."""

from __future__ import annotations

import logging
from typing import Any

from bot.home.cards import HomeId
from bot.home.service import Home
from bot.permissions import Action, Grant, Need
from bot.slack.interactions import Interaction, Interactions

log = logging.getLogger(__name__)


def install(interactions: Interactions, home: Home) -> None:
    async def publish(user: str, notice: str | None) -> None:
        try:
            await home.publish(user, notice)
        except Exception:
            log.exception("could not publish the Home tab for %s", user)

    # Work done from the Home tab (or a form opened there) republishes it, with any answer.
    interactions.home = publish

    @interactions.app.event("app_home_opened")
    async def opened(event: dict[str, Any]) -> None:
        # Bolt acks events itself. The Messages tab sends this event too; only Home shows a view.
        # A Slack retry republishes the same content, which is harmless.
        if event.get("tab", "home") == "home":
            await publish(str(event["user"]), None)

    async def refresh(interaction: Interaction, _: Grant[None]) -> None:
        await publish(interaction.user, None)
        return None

    def account(_: Interaction) -> Need[None]:
        return Need(Action.LIST)

    async def disconnect(interaction: Interaction, _: Grant[None]) -> str:
        return await home.disconnect(interaction.user)

    interactions.on_action(HomeId.REFRESH, refresh, need=account)
    interactions.on_action(HomeId.DISCONNECT, disconnect, need=account)
