"""Pending change events: what was answered 202 is kept until it has been acted on.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pending_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("table_name", sa.String(80), nullable=False),
        sa.Column("sys_id", sa.String(32), nullable=False),
        sa.Column("sys_mod_count", sa.Integer, nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("available_at", TZ, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.UniqueConstraint("table_name", "sys_id", name="uq_pending_events_record"),
    )
    op.create_index("ix_pending_events_due", "pending_events", ["available_at"])


def downgrade() -> None:
    op.drop_index("ix_pending_events_due", "pending_events")
    op.drop_table("pending_events")
