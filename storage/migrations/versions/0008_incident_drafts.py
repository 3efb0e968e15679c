"""Incident drafts: what someone asked to open while similar open incidents exist, until they choose.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_drafts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("slack_user_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=True),
        sa.Column("correlation_id", sa.String(100), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_incident_drafts_created_at", "incident_drafts", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_incident_drafts_created_at", "incident_drafts")
    op.drop_table("incident_drafts")
