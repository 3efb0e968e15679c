"""Requested items as channels can subscribe to them: stage, approval, state, group."""

from __future__ import annotations

from bot.feed.filters import Choices, FilterField, Rows, Subscribable
from bot.requested_items.kind import KIND

REQUESTED_ITEMS = Subscribable(
    table=KIND.table,
    label="Requested items",
    filters=(
        FilterField("stage", "Stage", Choices("sc_req_item", "stage")),
        FilterField("approval", "Approval", Choices("task", "approval")),
        # sc_req_item's states are task's (Open, Work in Progress, Closed Complete…).
        FilterField("state", "State", Choices("task", "state")),
        FilterField("assignment_group", "Assignment group", Rows("sys_user_group")),
    ),
    # What its tracker remembers (bot/records/tracker.py: state, the kind's news, the comment).
    priority_field=None,
    assignee_fields=("assigned_to",),
    done_states=KIND.closed_states,
)
