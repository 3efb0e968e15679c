"""Link previews of ServiceNow records, and `@incident-bot <number>` (see service.py)."""

from __future__ import annotations

import logging
from typing import Any

from bot.previews.service import Previews
from bot.services import Services
from storage import Threads

__all__ = ["Previews", "install"]

log = logging.getLogger(__name__)


def install(services: Services) -> Previews:
    """`link_shared` and `app_mention`; every change of a previewed record refreshes its previews."""
    previews = Previews(
        kinds=services.kinds,
        threads=Threads(services.db),
        guard=services.interactions.guard,
        messenger=services.messenger,
        slack=services.slack,
        interactions=services.interactions,
        keys=services.keys,
        instance_url=services.settings.servicenow_instance_url,
    )
    services.feed.also(previews.refresh)
    app = services.interactions.app

    @app.event("link_shared")
    async def link_shared(event: dict[str, Any]) -> None:
        try:
            await previews.on_link_shared(event)
        except Exception:
            log.exception("previewing links failed")

    @app.event("app_mention")
    async def app_mention(event: dict[str, Any]) -> None:
        try:
            await previews.on_mention(event)
        except Exception:
            log.exception("answering a mention failed")

    return previews
