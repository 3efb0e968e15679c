"""User links and posted messages.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_links",
        sa.Column("slack_user_id", sa.String(32), primary_key=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("sys_user_id", sa.String(32), nullable=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_user_links_sys_user_id", "user_links", ["sys_user_id"])
    op.create_table(
        "posted_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("table_name", sa.String(80), nullable=False),
        sa.Column("sys_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("rendered_hash", sa.String(64), nullable=False),
        sa.Column("rendered", sa.Text, nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("channel", "ts", name="uq_posted_messages_channel_ts"),
    )
    op.create_index("ix_posted_messages_record", "posted_messages", ["table_name", "sys_id"])


def downgrade() -> None:
    op.drop_index("ix_posted_messages_record", "posted_messages")
    op.drop_table("posted_messages")
    op.drop_index("ix_user_links_sys_user_id", "user_links")
    op.drop_table("user_links")
