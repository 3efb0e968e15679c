"""Outbox: claims kept alive by their holder, and DMs folded per person and record.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        # Who holds the claim: only they may extend it (heartbeat) or settle the row.
        batch.add_column(sa.Column("claim_token", sa.String(32), nullable=True))
        # DMs about one record to one person within a window become one: the key, and the
        # tracker's memo of where the burst started.
        batch.add_column(sa.Column("fold_key", sa.String(200), nullable=True))
        batch.add_column(sa.Column("fold_state", sa.Text, nullable=True))
    op.create_index("ix_outbox_target", "outbox", ["target", "status", "id"])
    op.create_index("ix_outbox_fold", "outbox", ["fold_key", "status"])


def downgrade() -> None:
    op.drop_index("ix_outbox_fold", "outbox")
    op.drop_index("ix_outbox_target", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("fold_state")
        batch.drop_column("fold_key")
        batch.drop_column("claim_token")
