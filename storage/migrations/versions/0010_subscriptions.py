"""Channel subscriptions: filters and events per channel, one live card per record per channel.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("table_name", sa.String(80), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("filters", sa.Text(), nullable=False),
        sa.Column("history", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("creator", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_subscriptions_table", "subscriptions", ["table_name"])
    op.create_index("ix_subscriptions_channel", "subscriptions", ["channel"])
    op.create_index("ix_subscriptions_creator", "subscriptions", ["creator"])
    op.create_table(
        "channel_cards",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("table_name", sa.String(80), primary_key=True),
        sa.Column("sys_id", sa.String(32), primary_key=True),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("matching", sa.Boolean(), nullable=False),
        sa.Column("footer", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "once_done",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("once_done")
    op.drop_table("channel_cards")
    op.drop_index("ix_subscriptions_creator", "subscriptions")
    op.drop_index("ix_subscriptions_channel", "subscriptions")
    op.drop_index("ix_subscriptions_table", "subscriptions")
    op.drop_table("subscriptions")
