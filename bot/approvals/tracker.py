"""How `sysapproval_approver` plugs into the change feed: the approver's live DM and its first send."""

from __future__ import annotations

from collections.abc import Mapping

from bot.approvals.service import FIELDS, TABLE, Approvals
from bot.feed.changes import Observation, Outgoing
from bot.slack.kit import Card
from servicenow.records import ApprovalState


class ApprovalTracker:
    """How `sysapproval_approver` plugs into the change feed (bot/feed/changes.py's Tracker protocol)."""

    table = TABLE
    fields: tuple[str, ...] = FIELDS
    # Start from now: no startup scan and no DM storm. A pending approval from before is news
    # (a DM) the first time it changes while still requested.
    initial_query: str | None = None
    baseline_initial = False
    # Decided: housekeeping forgets its DM and snapshot some days after (RETENTION_*).
    closed_states: tuple[str, ...] = (
        ApprovalState.APPROVED,
        ApprovalState.REJECTED,
        ApprovalState.CANCELLED,
        ApprovalState.NOT_REQUIRED,
        ApprovalState.SKIPPED,
    )

    def __init__(self, approvals: Approvals) -> None:
        self._approvals = approvals

    async def observe(
        self,
        record: Mapping[str, str],
        previous: Mapping[str, str] | None,
        actor: str | None,
        *,
        baseline: bool = False,
    ) -> Observation:
        snapshot = {name: record.get(name, "") for name in ("state", "approver", "sys_mod_count")}
        if baseline:
            return Observation(snapshot)
        card = self._approvals.card(record)
        return Observation(
            snapshot, card, tuple(await self._effects(record, previous, actor, card))
        )

    async def _effects(
        self,
        record: Mapping[str, str],
        previous: Mapping[str, str] | None,
        actor: str | None,
        card: Card,
    ) -> list[Outgoing]:
        """A DM to the approver when the approval enters `requested` (for them); nothing else."""
        if record.get("state") != ApprovalState.REQUESTED:
            return []
        approver = record.get("approver", "")
        if (
            previous is not None
            and previous.get("state") == ApprovalState.REQUESTED
            and previous.get("approver") == approver
        ):
            return []
        if not approver or actor == approver:
            return []
        target = await self._approvals.approver_slack_user(record)
        if target is None:
            return []
        return [Outgoing("dm", target, card, table=TABLE, sys_id=record.get("sys_id", ""))]
