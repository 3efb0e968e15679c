"""The App Home tab: my pending approvals and my open incidents, published with views.publish."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals.service import Approvals
from bot.feed.subscriptions import ChannelFeed
from bot.home.cards import home_problem, home_view
from bot.identity import Identity, NoServiceNowAccount
from bot.incidents.service import Incidents
from bot.linking import Linking, NotLinked
from bot.slack.explain import explain
from bot.slack.kit import escape
from bot.subscriptions.cards import subscription_line

if TYPE_CHECKING:
    from bot.services import HomeSection

log = logging.getLogger(__name__)


class Home:
    def __init__(
        self,
        slack: AsyncWebClient,
        identity: Identity,
        incidents: Incidents,
        approvals: Approvals,
        linking: Linking | None = None,
        *,
        sections: Sequence[HomeSection] = (),
        channels: ChannelFeed | None = None,
    ) -> None:
        self._sections = sections  # the other kinds' sections (Your requests, Your changes…)
        self._channels = channels
        self._slack = slack
        self._identity = identity
        self._incidents = incidents
        self._approvals = approvals
        self._linking = linking

    async def view(self, slack_user_id: str, notice: str | None = None) -> dict[str, Any]:
        """The Home tab for this person as it is now; a friendly state when they can't be matched."""
        try:
            person = await self._identity.person(slack_user_id)
        except NotLinked as exc:
            return home_problem(str(exc), exc.blocks, notice)
        except NoServiceNowAccount as exc:
            return home_problem(str(exc))
        try:
            (
                (opened, opened_total),
                (assigned, assigned_total),
                pending,
                more,
            ) = await asyncio.gather(
                self._incidents.list_for(person, "mine", 1),
                self._incidents.list_for(person, "assigned", 1),
                self._approvals.pending_for(person),
                asyncio.gather(*(section(person) for section in self._sections)),
            )
            subscribed = (
                [
                    (rule.channel, subscription_line(rule, self._channels.kinds))
                    for rule in await self._channels.subscriptions.by_creator(slack_user_id)
                ]
                if self._channels is not None
                else []
            )
        except NotLinked as exc:  # their grant ended since
            return home_problem(str(exc), exc.blocks)
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
            subscriptions=subscribed,
            connected_as=(person.name or person.email) if self._linking else None,
            more=[block for blocks in more for block in blocks],
        )

    async def publish(self, slack_user_id: str, notice: str | None = None) -> None:
        """Build and publish the Home tab (a later publish simply replaces it)."""
        view = await self.view(slack_user_id, notice)
        await self._slack.views_publish(user_id=slack_user_id, view=view)

    async def disconnect(self, slack_user_id: str) -> str:
        """Forget the person's linked ServiceNow account (account linking); what to tell them."""
        if self._linking is None:
            return "There is nothing to disconnect: this bot doesn't link ServiceNow accounts."
        account = await self._linking.disconnect(slack_user_id)
        await self._identity.forget(slack_user_id)
        if account is None:
            return "Your ServiceNow account wasn't connected, so there was nothing to disconnect."
        return (
            f":wave: Disconnected *{escape(account.display_name or account.user_name)}*: I "
            "forgot your ServiceNow tokens and asked ServiceNow to end them. Connect again any "
            "time from this Home tab."
        )
