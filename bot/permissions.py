"""Who may do what: checked on the one interaction path before anything is done for a person.

Every listener and subcommand declares a `Need`: the `Action` and, when it is about a record, how
to fetch it (once: the granted record is passed on to the work). `Guard.require` resolves the
person (no account: nothing is done), fetches the record with *that person's* ServiceNow client
(`client_for(person)`: their own token when the bot acts as people, else the integration user),
and asks the `Policy`. The permission table:

| action | who may |
|---|---|
| create, list (their own) | anyone with an active ServiceNow account |
| read (show, follow, post a card) | its caller, who opened it, its watch list, its assignee, its assignment group's members, or a `READ_ROLES` role |
| comment, reopen | its caller (or who opened it), or a `FULFILLER_ROLES` role |
| assign, work note, hold, start, resolve, close, cancel | a `FULFILLER_ROLES` role |
| approve, reject | the approver only |

Who decides follows from who makes the calls — the client the mode gives for the person (bot/app.py
wires `services.acting.client_for` in), never a listener:

* With only the integration user, ServiceNow's ACLs stop nobody (every call is `incident.bot`), so
  the bot applies the table itself (`Policy(enforced=True)`), before any ServiceNow call made for
  the person. Roles come from `sys_user_has_role`, groups from `sys_user_grmember`, cached for a
  few minutes per person (and forgotten at once when Slack says their profile changed).
* Acting as the person (JWT bearer grant, or a linked account), every read and write for them
  carries their own token, so ServiceNow's ACLs decide (`Guard.policy_for` gives
  `Policy.servicenow_decides()` for anyone whose client is not the integration user): the bot
  still insists on an account and keeps approvals to their approver, and nothing more. When
  ServiceNow says no — a record it hides (404 "ACL restricts the record retrieval", or a list
  whose page comes back empty although X-Total-Count counted the row) or a write it refuses
  (403) — `Guard` turns that into the same kind of `Refused` as the table's own, naming what was
  refused and why in the table's words where they fit (`Guard.refused`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from bot.identity import Identity, Person
from bot.slack.explain import Refusal, acl_hides
from bot.slack.kit import escape
from servicenow.client import ServiceNowClient
from servicenow.errors import ForbiddenError, NotFoundError
from servicenow.query import Query, validate_sys_id

T = TypeVar("T")
log = logging.getLogger(__name__)


class Action(StrEnum):
    CREATE = "create"
    LIST = "list"
    READ = "read"
    COMMENT = "comment"
    REOPEN = "reopen"
    ASSIGN = "assign"
    WORK_NOTE = "work_note"
    HOLD = "hold"
    START = "start"
    RESOLVE = "resolve"
    CLOSE = "close"
    CANCEL = "cancel"
    APPROVE = "approve"


# How a refusal names what was refused ("you can't <verb> INC0000001").
VERBS: dict[Action, str] = {
    Action.CREATE: "open incidents",
    Action.LIST: "list records",
    Action.READ: "see",
    Action.COMMENT: "comment on",
    Action.REOPEN: "reopen",
    Action.ASSIGN: "assign",
    Action.WORK_NOTE: "add work notes to",
    Action.HOLD: "put on hold",
    Action.START: "start work on",
    Action.RESOLVE: "resolve",
    Action.CLOSE: "close",
    Action.CANCEL: "cancel",
    Action.APPROVE: "approve or reject",
}
ACCOUNT_ONLY = frozenset({Action.CREATE, Action.LIST})
FULFILLER_ONLY = frozenset(
    {
        Action.ASSIGN,
        Action.WORK_NOTE,
        Action.HOLD,
        Action.START,
        Action.RESOLVE,
        Action.CLOSE,
        Action.CANCEL,
    }
)
CALLER_OR_FULFILLER = frozenset({Action.COMMENT, Action.REOPEN})


@dataclass(frozen=True)
class Subject:
    """A record as the rules see it: whose it is and who works it (sys_ids, and names to say so)."""

    table: str
    name: str  # its number, or what is approved
    caller: str = ""
    caller_name: str = ""
    opened_by: str = ""
    watch_list: frozenset[str] = frozenset()
    assigned_to: str = ""
    assigned_to_name: str = ""
    assignment_group: str = ""
    assignment_group_name: str = ""
    approver: str = ""
    approver_name: str = ""


@dataclass(frozen=True)
class Target(Generic[T]):
    """A fetched record and how the rules see it."""

    record: T
    subject: Subject


@dataclass(frozen=True)
class Need(Generic[T]):
    """What an entry needs before its work runs: `action`, on the record `locate` fetches with the
    ServiceNow client it is given — the person's own (none: the person's account is all it
    needs)."""

    action: Action
    locate: Callable[[ServiceNowClient], Awaitable[Target[T]]] | None = None


@dataclass(frozen=True)
class Grant(Generic[T]):
    """What the work gets once allowed: the person, and the record it was allowed on (fetched
    once; None when the need had no record) and how the rules see it."""

    person: Person
    record: T
    subject: Subject | None = None


class Hidden(Refusal):
    """ServiceNow does not show the person the record `name` (an ACL): a list found it but left
    it out of the page. On the interaction path `Guard` explains it as a refusal of the action."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f":no_entry: ServiceNow won't show you {escape(name)}: your account isn't allowed to "
            "read it."
        )


@dataclass(frozen=True)
class Standing:
    """The person's roles and groups in ServiceNow (sys_ids for groups, names for roles)."""

    roles: frozenset[str]
    groups: frozenset[str]


class Refused(Refusal):
    """The person may not do this; the message says what, why and what to do."""

    def __init__(self, action: Action, subject: Subject | None, text: str) -> None:
        self.action = action
        self.subject = subject
        super().__init__(text)


def _roles_text(roles: Iterable[str]) -> str:
    names = sorted(roles)
    quoted = [f"*{escape(n)}*" for n in names]
    if len(quoted) <= 1:
        return (quoted or ["*(none configured)*"])[0] + " role"
    return ", ".join(quoted[:-1]) + f" or {quoted[-1]} role"


@dataclass(frozen=True)
class Policy:
    """The permission table, in the integration-user mode. `read_roles` read any incident;
    `fulfiller_roles` work any incident (and read it)."""

    read_roles: frozenset[str] = frozenset({"itil"})
    fulfiller_roles: frozenset[str] = frozenset({"itil"})
    enforced: bool = True

    @classmethod
    def servicenow_decides(
        cls,
        read_roles: frozenset[str] = frozenset({"itil"}),
        fulfiller_roles: frozenset[str] = frozenset({"itil"}),
    ) -> Policy:
        """For calls made as the person (their own token): ServiceNow's ACLs judge; the bot
        still insists on an account and an approver's own approval. The roles only word the
        explanation of ServiceNow's refusals."""
        return cls(read_roles, fulfiller_roles, enforced=False)

    def needs_standing(self, action: Action, subject: Subject | None, person: Person) -> bool:
        """Whether roles or groups could change the answer (they are fetched only then)."""
        if not self.enforced or action in ACCOUNT_ONLY or action == Action.APPROVE:
            return False
        return subject is not None and not _involved(person, subject, action)

    def refusal(
        self, person: Person, action: Action, subject: Subject | None, standing: Standing | None
    ) -> str | None:
        """None when allowed; otherwise the sentence for the person."""
        if action == Action.APPROVE:
            if subject is None or subject.approver == person.sys_user_id:
                return None
            owner = escape(subject.approver_name or "the approver")
            return (
                f":no_entry: Only {owner} can approve or reject {escape(subject.name)}; "
                "nothing was changed."
            )
        if not self.enforced or action in ACCOUNT_ONLY or subject is None:
            return None
        if _involved(person, subject, action):
            return None
        roles = standing.roles if standing else frozenset()
        groups = standing.groups if standing else frozenset()
        name, verb = escape(subject.name), VERBS[action]
        if action in FULFILLER_ONLY:
            if roles & self.fulfiller_roles:
                return None
            return (
                f":no_entry: You can't {verb} {name}: that needs the "
                f"{_roles_text(self.fulfiller_roles)} in ServiceNow, which you don't have. "
                f"Ask your ServiceNow admin for it, or ask {_workers(subject)} to do it; "
                "nothing was changed."
            )
        if action in CALLER_OR_FULFILLER:
            if roles & self.fulfiller_roles:
                return None
            caller = escape(subject.caller_name) if subject.caller_name else "its caller"
            return (
                f":no_entry: You can't {verb} {name}: it isn't yours. Only {caller} or someone "
                f"with the {_roles_text(self.fulfiller_roles)} can; nothing was changed."
            )
        # Action.READ
        if roles & (self.read_roles | self.fulfiller_roles):
            return None
        if subject.assignment_group and subject.assignment_group in groups:
            return None
        return (
            f":no_entry: You can't see {name}: only its caller, the person who opened it, people "
            f"on its watch list, its assignee, members of {_group(subject)} or someone with the "
            f"{_roles_text(self.read_roles)} can. Ask its caller to add you to the watch list, "
            "or your ServiceNow admin for the role."
        )


def _involved(person: Person, subject: Subject, action: Action) -> bool:
    """Allowed by who the person is on the record alone (no roles needed)."""
    me = person.sys_user_id
    if action in FULFILLER_ONLY:
        return False
    mine = me in (subject.caller, subject.opened_by)
    if action in CALLER_OR_FULFILLER:
        return mine
    watching = me in subject.watch_list or person.email.lower() in subject.watch_list
    return mine or me == subject.assigned_to or watching


def _workers(subject: Subject) -> str:
    if subject.assigned_to_name:
        return f"its assignee ({escape(subject.assigned_to_name)})"
    if subject.assignment_group_name:
        return f"the {escape(subject.assignment_group_name)} group"
    return "the service desk"


def _group(subject: Subject) -> str:
    return (
        f"its assignment group ({escape(subject.assignment_group_name)})"
        if subject.assignment_group_name
        else "its assignment group"
    )


@dataclass
class _Cached:
    until: float
    standing: Standing


def _unknown(action: Action, name: str) -> Subject:
    """A record ServiceNow would not show: only what the person asked about is known of it."""
    if action == Action.APPROVE:
        return Subject("sysapproval_approver", name or "this approval")
    return Subject("incident", name or "this incident")


@dataclass
class Guard:
    """Checks a `Need` for a Slack user: their account, the record (read with their own client),
    the policy; and explains ServiceNow's refusals of what is then done for them."""

    identity: Identity
    servicenow: ServiceNowClient  # the integration user: roles and groups (identity look-ups)
    policy: Policy = field(
        default_factory=Policy
    )  # the table, for calls the integration user makes
    # The client that reads and writes for a person (services.acting.client_for): whenever it is
    # not the integration user, ServiceNow's ACLs decide for that person instead of the table.
    client_for: Callable[[Person], ServiceNowClient] | None = None
    ttl: float = 300.0  # how long roles and groups are trusted
    _standings: dict[str, _Cached] = field(default_factory=dict, init=False, repr=False)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict, init=False, repr=False)

    def client(self, person: Person) -> ServiceNowClient:
        """What reads and writes for `person`: their own client, or the integration user."""
        return self.client_for(person) if self.client_for else self.servicenow

    def policy_for(self, person: Person) -> Policy:
        """The table when the integration user acts for `person`; ServiceNow's ACLs when their own
        token does (decided per person: a mode may act as some people and not yet as others)."""
        if self.client(person).same_user(self.servicenow):
            return self.policy
        return Policy.servicenow_decides(self.policy.read_roles, self.policy.fulfiller_roles)

    async def require(self, slack_user_id: str, need: Need[T]) -> Grant[T]:
        """The grant, or NoServiceNowAccount / Refused (a Refusal: explained, nothing done)."""
        person = await self.identity.person(slack_user_id)
        policy = self.policy_for(person)
        target = None
        if need.locate:
            try:
                target = await need.locate(self.client(person))
            except Exception as exc:
                translated = await self.translate(exc, need.action, Grant(person, None))
                if translated is exc:
                    raise
                raise translated from exc
        subject = target.subject if target else None
        standing = (
            await self.standing(person)
            if policy.needs_standing(need.action, subject, person)
            else None
        )
        refusal = policy.refusal(person, need.action, subject, standing)
        if refusal:
            raise Refused(need.action, subject, refusal)
        return Grant(person, target.record if target else None, subject)  # type: ignore[arg-type]

    async def translate(self, exc: Exception, action: Action, grant: Grant[T] | None) -> Exception:
        """`exc` as the person should hear it. When ServiceNow decides (the call was made as the
        person), its ACL refusals — a hidden record, a 403 that is no missing mandatory field —
        become a `Refused` of `action`, like the table's own; anything else is left as it is (with
        the integration user, a 403 or 404 is no judgement of the person)."""
        if grant is None or self.policy_for(grant.person).enforced:
            return exc
        if isinstance(exc, Hidden):
            return await self.refused(grant.person, action, _unknown(action, exc.name), hidden=True)
        if isinstance(exc, NotFoundError) and acl_hides(exc):
            subject = grant.subject or _unknown(action, "")
            return await self.refused(grant.person, action, subject, hidden=True)
        if isinstance(exc, ForbiddenError) and not exc.mandatory_fields:
            return await self.refused(grant.person, action, grant.subject or _unknown(action, ""))
        return exc

    async def refused(
        self, person: Person, action: Action, subject: Subject, *, hidden: bool = False
    ) -> Refused:
        """ServiceNow refused `action` on `subject` for `person`: say so in the table's words
        (what, why, what to do) where the table would refuse too; otherwise plainly."""
        if hidden and action != Action.APPROVE:
            action = Action.READ  # what can't be seen can't be worked either: say that
        judge = Policy(self.policy.read_roles, self.policy.fulfiller_roles)
        standing = None
        if judge.needs_standing(action, subject, person):
            try:
                standing = await self.standing(person)
            except Exception as exc:  # only the wording needs it: say it without roles and groups
                log.info("no roles for %s to explain a refusal: %r", person.sys_user_id, exc)
        text = judge.refusal(person, action, subject, standing)
        if text is None:  # the instance's ACLs go beyond the table: no reason to give but theirs
            text = (
                f":no_entry: ServiceNow didn't let you {VERBS[action]} {escape(subject.name)} "
                "with your account, so nothing was changed. If you need to, ask your ServiceNow "
                "admin for the role that allows it."
            )
        return Refused(action, subject, text)

    async def standing(self, person: Person) -> Standing:
        """Roles and groups, from ServiceNow at most once per `ttl` per person."""
        key = person.sys_user_id
        cached = self._standings.get(key)
        if cached and cached.until > time.monotonic():
            return cached.standing
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._standings.get(key)
            if cached and cached.until > time.monotonic():
                return cached.standing
            user = validate_sys_id(key)
            roles, groups = await asyncio.gather(
                self.servicenow.list(
                    "sys_user_has_role", Query().eq("user", user), fields=("role.name",), limit=500
                ),
                self.servicenow.list(
                    "sys_user_grmember", Query().eq("user", user), fields=("group",), limit=500
                ),
            )
            standing = Standing(
                frozenset(r["role.name"] for r in roles.records if r.get("role.name")),
                frozenset(g["group"] for g in groups.records if g.get("group")),
            )
            self._standings[key] = _Cached(time.monotonic() + self.ttl, standing)
            return standing

    def forget(self, sys_user_id: str | None) -> None:
        """Ask ServiceNow again next time (their profile or account changed)."""
        if sys_user_id:
            self._standings.pop(sys_user_id, None)
