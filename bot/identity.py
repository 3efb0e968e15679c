"""Who is this Slack user in ServiceNow? Slack profile e-mail → active sys_user, cached in storage."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.explain import Refusal
from bot.slack.kit import escape
from servicenow.client import ServiceNowClient
from servicenow.query import Query, UnsafeQueryValue, validate_email
from servicenow.records import User
from storage import UserLinks
from storage.models import utcnow


@dataclass(frozen=True)
class Person:
    slack_user_id: str
    sys_user_id: str
    name: str
    email: str


def via_slack(person: Person) -> str:
    """How a write made for this person says so in ServiceNow."""
    return f"via Slack by {person.name or person.email} ({person.email})"


class NoServiceNowAccount(Refusal):
    """The Slack user has no usable ServiceNow account; the message says why, naming the e-mail."""

    def __init__(self, email: str | None, slack_user_id: str | None = None) -> None:
        self.email = email
        self.slack_user_id = slack_user_id
        if slack_user_id:  # about someone else
            who = f"<@{slack_user_id}>"
            text = (
                f"{who} has no active ServiceNow account with the e-mail *{escape(email)}*."
                if email
                else f"I couldn't read an e-mail address from {who}'s Slack profile."
            )
        elif email:
            text = (
                f"I couldn't find an active ServiceNow user with the e-mail *{escape(email)}* "
                "(the one on your Slack profile). Ask your ServiceNow admin to add it to your "
                "ServiceNow account, then try again."
            )
        else:
            text = (
                "I couldn't read an e-mail address from your Slack profile, so I can't tell who "
                "you are in ServiceNow."
            )
        super().__init__(text)


class Identity:
    def __init__(
        self,
        slack: AsyncWebClient,
        servicenow: ServiceNowClient,
        links: UserLinks,
        *,
        found_ttl: timedelta = timedelta(hours=12),
        missing_ttl: timedelta = timedelta(minutes=5),
        memory_ttl: float = 60.0,
    ) -> None:
        self._slack = slack
        self._servicenow = servicenow
        self._links = links
        self._found_ttl = found_ttl
        self._missing_ttl = missing_ttl
        # Matches also live in memory for a short while: every command and click needs one, and
        # storage stays the shared truth between replicas.
        self._memory: dict[str, tuple[float, Person]] = {}
        self._memory_ttl = memory_ttl
        self._locks: dict[str, asyncio.Lock] = {}
        self.hits = 0  # for /metrics: answered from memory or storage, or looked up again
        self.misses = 0

    async def person(self, slack_user_id: str, *, for_someone_else: bool = False) -> Person:
        """The ServiceNow user behind `slack_user_id`, or NoServiceNowAccount.

        `for_someone_else` words the refusal about that person rather than about "you".
        """
        remembered = self._memory.get(slack_user_id)
        if remembered and remembered[0] > time.monotonic():
            self.hits += 1
            return remembered[1]
        # Concurrent first commands from one person ask Slack and ServiceNow once.
        async with self._locks.setdefault(slack_user_id, asyncio.Lock()):
            return await self._resolve(slack_user_id, for_someone_else)

    async def _resolve(self, slack_user_id: str, for_someone_else: bool) -> Person:
        remembered = self._memory.get(slack_user_id)
        if remembered and remembered[0] > time.monotonic():
            return remembered[1]
        link = await self._links.get_fresh(
            slack_user_id, found_ttl=self._found_ttl, missing_ttl=self._missing_ttl
        )
        self.hits += link is not None
        if link is None:
            self.misses += 1
            email = await self._slack_email(slack_user_id)
            user = await self._find_user(email) if email else None
            link = await self._links.save(
                slack_user_id,
                email=email,
                sys_user_id=user.sys_id if user else None,
                display_name=user.name if user else "",
            )
        if link.sys_user_id is None or link.email is None:
            raise NoServiceNowAccount(link.email, slack_user_id if for_someone_else else None)
        person = Person(slack_user_id, link.sys_user_id, link.display_name, link.email)
        self._memory[slack_user_id] = (time.monotonic() + self._memory_ttl, person)
        return person

    async def slack_user(self, sys_user_id: str, email: str, name: str = "") -> str | None:
        """The Slack user for a ServiceNow user (by e-mail), for mentions and DMs; None if none."""
        link = await self._links.by_sys_user(sys_user_id)
        if link is not None and utcnow() - link.resolved_at < self._found_ttl:
            return link.slack_user_id
        if not email:
            return None
        try:
            response = await self._slack.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            if exc.response.get("error") == "users_not_found":
                return None
            raise
        slack_user_id = str(response["user"]["id"])
        await self._links.save(
            slack_user_id, email=email.lower(), sys_user_id=sys_user_id, display_name=name
        )
        return slack_user_id

    async def _slack_email(self, slack_user_id: str) -> str | None:
        try:
            response = await self._slack.users_info(user=slack_user_id)
        except SlackApiError as exc:
            if exc.response.get("error") == "user_not_found":
                return None
            raise
        profile = (response.get("user") or {}).get("profile") or {}
        email = profile.get("email")
        return email.strip().lower() if isinstance(email, str) and email.strip() else None

    async def _find_user(self, email: str) -> User | None:
        try:
            query = Query().eq("email", validate_email(email)).eq("active", "true")
        except UnsafeQueryValue:
            return None
        page = await self._servicenow.list("sys_user", query, fields=User.FIELDS, limit=1)
        return User.from_record(page.records[0]) if page.records else None
