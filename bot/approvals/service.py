"""Approval use cases: decide ServiceNow approvals from Slack, safely, and keep the approver's DM true.

Only the approver decides: the Slack user must resolve (by e-mail) to the approval's `approver`.
Every decision re-reads the approval first and acts only on `requested`, claims one idempotency key
per version of the record (double clicks and Slack retries decide once), and writes a comment saying
it came from Slack and from whom. Nothing here knows about Bolt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.acting import Acting
from bot.approvals.cards import ApprovalRequest, approval_card, approval_outcome
from bot.feed.changes import Feed
from bot.feed.messenger import Messenger
from bot.identity import Identity, Person, via_slack
from bot.permissions import Action, Need, Subject, Target
from bot.slack.explain import Refusal
from bot.slack.kit import Card, escape
from servicenow.client import ServiceNowClient
from servicenow.errors import WriteUncertainError
from servicenow.query import Query, validate_sys_id
from servicenow.records import Approval, ApprovalState
from storage import IdempotencyKeys

TABLE = "sysapproval_approver"
# Who asked for what is approved, best first: a change's `requested_by`, a requested item's or a
# request's `requested_for` (`sysapproval` is a task reference: `ref_<table>` narrows it), and
# whoever opened the record when none of those is set.
REQUESTERS = (
    "sysapproval.ref_change_request.requested_by.name",
    "sysapproval.ref_sc_req_item.requested_for.name",
    "sysapproval.ref_sc_req_item.request.requested_for.name",
    "sysapproval.ref_sc_request.requested_for.name",
    "sysapproval.opened_by.name",
)
FIELDS: tuple[str, ...] = (
    *Approval.FIELDS,
    "approver.email",
    *REQUESTERS,
    "sys_updated_by",
)
PENDING_MAX = 50


class ApprovalProblem(Refusal):
    """The person can't decide this approval (not theirs, already decided…); says why, for them."""


@dataclass(frozen=True)
class Decided:
    """A decision written to ServiceNow: the approval as it is now, and its card."""

    request: ApprovalRequest
    card: Card

    @property
    def confirmation(self) -> str:
        approval = self.request.approval
        verb = "Approved" if approval.state == ApprovalState.APPROVED else "Rejected"
        return f":white_check_mark: {verb} {escape(self.request.name)}."


class Approvals:
    def __init__(
        self,
        servicenow: ServiceNowClient,
        identity: Identity,
        messenger: Messenger,
        keys: IdempotencyKeys,
        feed: Feed,
        *,
        signature_tables: frozenset[str] = frozenset({"change_request"}),
        acting: Acting | None = None,
    ) -> None:
        self._servicenow = servicenow
        self._signature_tables = signature_tables
        self._identity = identity
        self._messenger = messenger
        self._keys = keys
        self._feed = feed
        self._acting = acting or Acting(servicenow)

    # -- reading ---------------------------------------------------------------------------------

    def request(self, record: Mapping[str, str]) -> ApprovalRequest:
        """The approval in `record` (fetched with FIELDS) with its parent's link and requester."""
        approval = Approval.from_record(record)
        requester = next((record[name] for name in REQUESTERS if record.get(name)), "")
        sign_at = ""
        if self.needs_signature(approval):
            sign_at = self._servicenow.record_url(TABLE, approval.sys_id)
        return ApprovalRequest(approval, self.url(approval), requester, sign_at)

    def needs_signature(self, approval: Approval) -> bool:
        """Whether ServiceNow asks for an e-signature to decide it (E_SIGNATURE_TABLES)."""
        return approval.source_table in self._signature_tables

    def by_sys_id(self, sys_id: str) -> Need[dict[str, str]]:
        """Deciding the approval with this sys_id: its approver only."""

        async def locate(servicenow: ServiceNowClient) -> Target[dict[str, str]]:
            record = await self.get(sys_id, servicenow)
            approval = self.request(record)
            subject = Subject(
                TABLE,
                approval.name,
                approver=approval.approval.approver,
                approver_name=approval.approval.approver_name,
            )
            return Target(record, subject)

        return Need(Action.APPROVE, locate)

    def url(self, approval: Approval) -> str:
        """The record being approved, in ServiceNow (the approval itself when there is none)."""
        parent = approval.sysapproval or approval.document_id
        if parent:
            return self._servicenow.record_url(approval.source_table or "task", parent)
        return self._servicenow.record_url(TABLE, approval.sys_id)

    def card(self, record: Mapping[str, str]) -> Card:
        return approval_card(self.request(record))

    async def get(self, sys_id: str, servicenow: ServiceNowClient | None = None) -> dict[str, str]:
        """The approval, read with `servicenow` (the integration user unless given)."""
        client = servicenow or self._servicenow
        return await client.get(TABLE, validate_sys_id(sys_id), fields=FIELDS)

    async def pending_for(self, person: Person) -> list[ApprovalRequest]:
        """The approvals waiting on `person`, oldest first."""
        query = (
            Query()
            .eq("approver", validate_sys_id(person.sys_user_id))
            .eq("state", ApprovalState.REQUESTED)
            .order_by("sys_created_on")
        )
        servicenow = self._acting.client_for(person)
        page = await servicenow.list(TABLE, query, fields=FIELDS, limit=PENDING_MAX)
        return [self.request(record) for record in page.records]

    # -- deciding --------------------------------------------------------------------------------

    async def approve(self, person: Person, record: dict[str, str]) -> Decided | None:
        """Approve for the approver; None when another click on this version is already deciding."""
        await self._decidable(person, record)
        values = {
            "state": ApprovalState.APPROVED.value,
            "comments": f"Approved {via_slack(person)}",
        }
        return await self._decide(person, record, values)

    async def reject(self, person: Person, record: dict[str, str], reason: str) -> Decided | None:
        """Reject with a reason (required) as the approval's comment; None as for `approve`."""
        reason = reason.strip()
        if not reason:
            raise ApprovalProblem("Say why you reject it: the reason is required.")
        await self._decidable(person, record)
        values = {
            "state": ApprovalState.REJECTED.value,
            "comments": f"{reason}\n\n— Rejected {via_slack(person)}",
        }
        return await self._decide(person, record, values)

    async def check(self, person: Person, record: dict[str, str]) -> ApprovalRequest:
        """The approval, if this person may decide it now; ApprovalProblem saying why not
        otherwise. Used before opening the reject form."""
        await self._decidable(person, record)
        return self.request(record)

    async def _decidable(self, person: Person, record: dict[str, str]) -> None:
        """The approver may decide it from Slack now (the permission check ran already: this is
        the record's own state, and the approver again, whatever the policy)."""
        request = self.request(record)
        approval = request.approval
        if approval.approver != person.sys_user_id:
            owner = approval.approver_name or "the approver"
            raise ApprovalProblem(
                f":no_entry: Only {escape(owner)} can approve or reject {escape(request.name)}; "
                "nothing was changed."
            )
        if approval.state != ApprovalState.REQUESTED:
            # Decided elsewhere (ServiceNow, another click): let every copy show the truth now.
            await self._feed.reconcile(TABLE, record)
            outcome = approval_outcome(approval) or approval.state.label
            raise ApprovalProblem(
                escape(f"{request.name} is already {approval.state.label.lower()} ({outcome}); ")
                + "nothing was changed."
            )
        if request.sign_at:
            raise ApprovalProblem(
                f":lock: {escape(request.name)} needs your e-signature, which only ServiceNow can "
                f"take: <{request.sign_at}|sign it in ServiceNow>; nothing was changed."
            )

    async def _decide(
        self, person: Person, record: Mapping[str, str], values: Mapping[str, str]
    ) -> Decided | None:
        sys_id = record["sys_id"]
        key = f"approval:{sys_id}:{record.get('sys_mod_count', '')}"
        if not await self._keys.claim(key):
            return None
        self._feed.expect_actor(TABLE, sys_id, person.sys_user_id)
        try:
            written = await self._acting.client_for(person).patch(
                TABLE, sys_id, values, fields=FIELDS, version=record.get("sys_mod_count")
            )
        except WriteUncertainError:
            raise  # it may have been decided: another click must not decide (and comment) again
        except Exception:
            await self._keys.release(key)
            raise
        # The change feed rewrites every copy of the card (the approver's DM) through the outbox.
        await self._feed.reconcile(TABLE, written, actor=person.sys_user_id)
        request = self.request(written)
        return Decided(request, approval_card(request))

    # -- telling the approver --------------------------------------------------------------------

    async def send_request_dm(self, sys_id: str) -> str | None:
        """DM the approver a pending approval now, as a live copy; the ts, or None if not sent.

        The change feed does this through ApprovalTracker in production; this is the direct path
        (tests, a manual nudge).
        """
        record = await self.get(sys_id)
        target = await self.approver_slack_user(record)
        request = self.request(record)
        if target is None or request.approval.state != ApprovalState.REQUESTED:
            return None
        card = approval_card(request)
        return await self._messenger.post_card(target, card, table=TABLE, sys_id=sys_id)

    async def approver_slack_user(self, record: Mapping[str, str]) -> str | None:
        approver = record.get("approver", "")
        if not approver:
            return None
        return await self._identity.slack_user(
            approver, record.get("approver.email", ""), record.get("approver.name", "")
        )
