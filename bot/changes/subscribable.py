"""Change requests as channels can subscribe to them ("changes awaiting approval": filter on
Approval = Requested and the states before Scheduled), choices from the instance's `sys_choice`."""

from __future__ import annotations

from bot.changes.kind import KIND
from bot.feed.filters import Choices, FilterField, Rows, Subscribable

CHANGE_REQUESTS = Subscribable(
    table=KIND.table,
    label="Changes",
    filters=(
        # `approval` is a task field: its choices are task's.
        FilterField("approval", "Approval", Choices("task", "approval")),
        FilterField("state", "State", Choices("change_request", "state")),
        FilterField("type", "Type", Choices("change_request", "type")),
        FilterField("risk", "Risk", Choices("change_request", "risk")),
        FilterField("assignment_group", "Assignment group", Rows("sys_user_group")),
    ),
    # What its tracker remembers (bot/records/tracker.py: state, the kind's news, the comment).
    priority_field=None,
    assignee_fields=("assigned_to",),
    done_states=KIND.closed_states,
)
