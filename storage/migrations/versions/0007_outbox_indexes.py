"""Outbox: look up a record's queued messages, and the oldest one waiting, without scanning the backlog.

Every change of a record rewrites its live copies still waiting to be posted (`_queue_card` in
storage/feed.py finds them by table and record); without an index that lookup read every pending
message, so queueing slowed as the backlog grew. `/healthz` and `/metrics` ask for the oldest
pending message (`oldest_pending_age`), which read every pending row too (33 ms a call at 100,000 on
SQLite): (status, created_at) answers it from the index's first entry.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_record", "outbox", ["table_name", "sys_id", "status"])
    op.create_index("ix_outbox_age", "outbox", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_age", "outbox")
    op.drop_index("ix_outbox_record", "outbox")
