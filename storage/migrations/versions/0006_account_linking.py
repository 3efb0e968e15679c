"""Account linking: "Connect ServiceNow" states in progress and the linked accounts' tokens.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "link_states",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("slack_user_id", sa.String(32), nullable=False),
        sa.Column("browser_hash", sa.String(64), nullable=False),
        sa.Column("verifier", sa.Text, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_link_states_expires_at", "link_states", ["expires_at"])
    op.create_table(
        "linked_accounts",
        sa.Column("slack_user_id", sa.String(32), primary_key=True),
        sa.Column("sys_user_id", sa.String(32), nullable=False),
        sa.Column("user_name", sa.String(100), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("access_token", sa.Text, nullable=False),
        sa.Column("refresh_token", sa.Text, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_linked_accounts_sys_user_id", "linked_accounts", ["sys_user_id"])


def downgrade() -> None:
    op.drop_index("ix_linked_accounts_sys_user_id", "linked_accounts")
    op.drop_table("linked_accounts")
    op.drop_index("ix_link_states_expires_at", "link_states")
    op.drop_table("link_states")
