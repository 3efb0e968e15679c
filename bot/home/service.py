"""The App Home tab: my pending approvals and my open incidents, published with views.publish."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals.service import Approvals
from bot.home.cards import home_problem, home_view
from bot.identity import Identity, NoServiceNowAccount
from bot.incidents.service import Incidents
from bot.slack.explain import explain

log = logging.getLogger(__name__)


class Home:
    def __init__(
        self,
        slack: AsyncWebClient,
        identity: Identity,
        incidents: Incidents,
        approvals: Approvals,
    ) -> None:
        self._slack = slack
        self._identity = identity
        self._incidents = incidents
        self._approvals = approvals

    async def view(self, slack_user_id: str, notice: str | None = None) -> dict[str, Any]:
        """The Home tab for this person as it is now; a friendly state when they can't be matched."""
        try:
            person = await self._identity.person(slack_user_id)
        except NoServiceNowAccount as exc:
            return home_problem(str(exc))
        try:
            (opened, opened_total), (assigned, assigned_total), pending = await asyncio.gather(
                self._incidents.list_for(person, "mine", 1),
                self._incidents.list_for(person, "assigned", 1),
                self._approvals.pending_for(person),
            )
        except Exception as exc:
            log.info("home for %s could not be filled: %r", slack_user_id, exc)
            return home_problem(explain(exc))
        return home_view(
            approvals=pending,
            opened=[(i, self._incidents.url(i.sys_id)) for i in opened],
            assigned=[(i, self._incidents.url(i.sys_id)) for i in assigned],
            opened_total=opened_total,
            assigned_total=assigned_total,
            notice=notice,
        )

    async def publish(self, slack_user_id: str, notice: str | None = None) -> None:
        """Build and publish the Home tab (a later publish simply replaces it)."""
        view = await self.view(slack_user_id, notice)
        await self._slack.views_publish(user_id=slack_user_id, view=view)
