"""Who is this Slack user in ServiceNow? Slack profile e-mail → active sys_user, cached in storage.

The forward answer (Slack user → sys_user) is re-checked within minutes (still active, same e-mail),
and at once when Slack says the profile changed (`forget`, on `user_change`). An e-mail shared by
two active users matches nobody. The reverse answer (sys_user → Slack user, for DMs) never writes a
link: only the forward direction binds a Slack user to a sys_user.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
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
from storage.models import as_utc, utcnow


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


class AmbiguousEmail(NoServiceNowAccount):
    """Two or more active ServiceNow users share the e-mail: the bot can't tell which one is you."""

    def __init__(self, email: str, slack_user_id: str | None = None) -> None:
        self.email = email
        self.slack_user_id = slack_user_id
        whose = f"<@{slack_user_id}>'s" if slack_user_id else "your"
        Refusal.__init__(
            self,
            f"More than one active ServiceNow user has the e-mail *{escape(email)}* ({whose} "
            "Slack e-mail), so I can't tell which account to act as. Ask your ServiceNow admin "
            "to keep that e-mail on one active user only.",
        )


class Identity:
    def __init__(
        self,
        slack: AsyncWebClient,
        servicenow: ServiceNowClient,
        links: UserLinks,
        *,
        found_ttl: timedelta = timedelta(minutes=5),
        missing_ttl: timedelta = timedelta(minutes=5),
        memory_ttl: float = 60.0,
        reverse_ttl: timedelta = timedelta(hours=12),
        linked: Callable[[str], Awaitable[Person | None]] | None = None,
        not_linked: Callable[[str], Exception] | None = None,
        linked_slack_user: Callable[[str], Awaitable[str | None]] | None = None,
    ) -> None:
        self._slack = slack
        self._servicenow = servicenow
        self._links = links
        self._found_ttl = found_ttl
        self._missing_ttl = missing_ttl
        self._reverse_ttl = reverse_ttl
        # Matches also live in memory for a short while: every command and click needs one, and
        # storage stays the shared truth between replicas.
        self._memory: dict[str, tuple[float, Person]] = {}
        self._memory_ttl = memory_ttl
        self._locks: dict[str, asyncio.Lock] = {}
        self.hits = 0  # for /metrics: answered from memory or storage, or looked up again
        self.misses = 0
        # E-mails found on several active users, to say so while their "no match" is remembered.
        self._ambiguous: dict[str, float] = {}
        # Reverse answers found by e-mail (never stored as links): sys_user → (until, Slack user).
        self._reverse: dict[str, tuple[float, str | None]] = {}
        # Account linking (SERVICENOW_LINKING): who someone is comes from the account they
        # connected (the token's sys_user), never from an e-mail; someone not connected is asked
        # to connect. Others (an assignee named in a command) are still found by e-mail.
        self._linked = linked
        self._not_linked = not_linked
        self._linked_slack_user = linked_slack_user

    async def person(self, slack_user_id: str, *, for_someone_else: bool = False) -> Person:
        """The ServiceNow user behind `slack_user_id`, or NoServiceNowAccount.

        `for_someone_else` words the refusal about that person rather than about "you".
        """
        if self._linked is not None:
            person = await self._linked(slack_user_id)
            if person is not None:
                self.hits += 1
                return person
            if not for_someone_else and self._not_linked is not None:
                raise self._not_linked(slack_user_id)
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
            users = await self._find_users(email) if email else []
            user = users[0] if len(users) == 1 else None
            if email and len(users) > 1:
                self._ambiguous[email] = time.monotonic() + self._missing_ttl.total_seconds()
            link = await self._links.save(
                slack_user_id,
                email=email,
                sys_user_id=user.sys_id if user else None,
                display_name=user.name if user else "",
            )
        if link.sys_user_id is None or link.email is None:
            about = slack_user_id if for_someone_else else None
            if link.email and self._ambiguous.get(link.email, 0.0) > time.monotonic():
                raise AmbiguousEmail(link.email, about)
            raise NoServiceNowAccount(link.email, about)
        person = Person(slack_user_id, link.sys_user_id, link.display_name, link.email)
        self._memory[slack_user_id] = (time.monotonic() + self._memory_ttl, person)
        return person

    async def forget(self, slack_user_id: str) -> str | None:
        """Slack says this person's profile changed: check them again on their next command or
        click. Returns the sys_user they were linked to, if any."""
        self._memory.pop(slack_user_id, None)
        link = await self._links.get(slack_user_id)
        await self._links.forget(slack_user_id)
        if link and link.sys_user_id:
            self._reverse.pop(link.sys_user_id, None)
            return link.sys_user_id
        return None

    async def slack_user(self, sys_user_id: str, email: str, name: str = "") -> str | None:
        """The Slack user for a ServiceNow user (by e-mail), for mentions and DMs; None if none.

        A link the forward direction made wins. Otherwise Slack is asked by e-mail, and the answer
        is only remembered here, never stored as a link: a Slack user already linked to a
        different sys_user is not that ServiceNow user (None: no DM to them about it). With
        account linking, whoever connected this ServiceNow account is that person first.
        """
        if self._linked_slack_user is not None:
            linked = await self._linked_slack_user(sys_user_id)
            if linked is not None:
                return linked
        link = await self._links.by_sys_user(sys_user_id)
        if link is not None and utcnow() - as_utc(link.resolved_at) < self._reverse_ttl:
            return link.slack_user_id
        remembered = self._reverse.get(sys_user_id)
        if remembered and remembered[0] > time.monotonic():
            return remembered[1]
        if not email:
            return None
        try:
            response = await self._slack.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            if exc.response.get("error") == "users_not_found":
                return None
            raise
        slack_user_id: str | None = str(response["user"]["id"])
        bound = await self._links.get(slack_user_id or "")
        if bound is not None and bound.sys_user_id not in (None, sys_user_id):
            slack_user_id = None  # linked to another account: never re-bound from here
        until = time.monotonic() + self._reverse_ttl.total_seconds()
        self._reverse[sys_user_id] = (until, slack_user_id)
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

    async def _find_users(self, email: str) -> list[User]:
        """The active users with this e-mail (two at most: one is a match, two are ambiguous)."""
        try:
            query = Query().eq("email", validate_email(email)).eq("active", "true")
        except UnsafeQueryValue:
            return []
        page = await self._servicenow.list(
            "sys_user", query.order_by("sys_id"), fields=User.FIELDS, limit=2
        )
        return [User.from_record(record) for record in page.records]
