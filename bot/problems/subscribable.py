"""Problems as channels can subscribe to them: state, priority, group, known errors only."""

from __future__ import annotations

from bot.feed.filters import Choices, FilterField, Flag, Rows, Subscribable
from bot.problems.kind import KIND

PROBLEMS = Subscribable(
    table=KIND.table,
    label="Problems",
    filters=(
        FilterField("state", "State", Choices("problem", "state")),
        # Offered where the instance has the list (the form leaves a missing one out).
        FilterField("priority", "Priority", Choices("problem", "priority")),
        FilterField("assignment_group", "Assignment group", Rows("sys_user_group")),
    ),
    flags=(Flag("known_error", "Only known errors", "known_error", ("true",)),),
    # What its tracker remembers (bot/records/tracker.py: state, the kind's news, the comment):
    # no priority there, so no "priority changed" event.
    priority_field=None,
    assignee_fields=("assigned_to",),
    done_states=("106", *KIND.closed_states),  # Resolved, Closed
)
