"""Threads and link previews: a card's place in a thread, threads a card was posted into to sync
them (an incident opened from a message), channels that opted out of thread sync,
comments that came from Slack (so they never travel back), and the link previews to refresh.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posted_messages") as batch:
        batch.add_column(sa.Column("thread_ts", sa.String(32), nullable=True))
    op.create_table(
        "channel_settings",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("threads", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "thread_links",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=False),
        sa.Column("table_name", sa.String(80), nullable=False),
        sa.Column("sys_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("channel", "thread_ts", "table_name", "sys_id", name="uq_thread_links"),
    )
    op.create_index("ix_thread_links_record", "thread_links", ["table_name", "sys_id"])
    op.create_table(
        "journal_origins",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("table_name", sa.String(80), nullable=False),
        sa.Column("sys_id", sa.String(32), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("entry_id", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_journal_origins_record", "journal_origins", ["table_name", "sys_id"])
    op.create_table(
        "unfurls",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("table_name", sa.String(80), nullable=False),
        sa.Column("sys_id", sa.String(32), nullable=False),
        sa.Column("slack_user_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("channel", "ts", "url", name="uq_unfurls_message_url"),
    )
    op.create_index("ix_unfurls_record", "unfurls", ["table_name", "sys_id"])


def downgrade() -> None:
    op.drop_index("ix_unfurls_record", "unfurls")
    op.drop_table("unfurls")
    op.drop_index("ix_thread_links_record", "thread_links")
    op.drop_table("thread_links")
    op.drop_index("ix_journal_origins_record", "journal_origins")
    op.drop_table("journal_origins")
    op.drop_table("channel_settings")
    with op.batch_alter_table("posted_messages") as batch:
        batch.drop_column("thread_ts")
