"""Outbox: look up a record's queued messages by (table, sys_id) without scanning the backlog.

Every change of a record rewrites its live copies still waiting to be posted (`_queue_card` in
storage/feed.py finds them by table and record); without an index that lookup read every pending
message, so queueing slowed as the backlog grew.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_record", "outbox", ["table_name", "sys_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_record", "outbox")
