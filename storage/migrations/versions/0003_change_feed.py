"""Change feed: snapshots, poll cursors, the outbox, followers and notification settings.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "snapshots",
        sa.Column("table_name", sa.String(80), primary_key=True),
        sa.Column("sys_id", sa.String(32), primary_key=True),
        sa.Column("sys_mod_count", sa.Integer, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "poll_cursors",
        sa.Column("table_name", sa.String(80), primary_key=True),
        sa.Column("cursor", sa.String(19), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(32), nullable=False),
        sa.Column("ts", sa.String(32), nullable=True),
        sa.Column("coalesce_key", sa.String(200), nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("table_name", sa.String(80), nullable=True),
        sa.Column("sys_id", sa.String(32), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("available_at", TZ, nullable=False),
        sa.Column("claimed_until", TZ, nullable=True),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index(
        "uq_outbox_pending_key",
        "outbox",
        ["coalesce_key"],
        unique=True,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "available_at"])
    op.create_table(
        "followers",
        sa.Column("table_name", sa.String(80), primary_key=True),
        sa.Column("sys_id", sa.String(32), primary_key=True),
        sa.Column("slack_user_id", sa.String(32), primary_key=True),
        sa.Column("sys_user_id", sa.String(32), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "notification_settings",
        sa.Column("slack_user_id", sa.String(32), primary_key=True),
        sa.Column("muted", sa.Boolean, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notification_settings")
    op.drop_table("followers")
    op.drop_index("ix_outbox_due", "outbox")
    op.drop_index("uq_outbox_pending_key", "outbox")
    op.drop_table("outbox")
    op.drop_table("poll_cursors")
    op.drop_table("snapshots")
