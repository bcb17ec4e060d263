"""The sender finds the partners with queued messages by one index seek each.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 19:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEX = "ix_messages_direction_state_partner_id_id"


def upgrade() -> None:
    op.create_index(op.f(INDEX), "messages", ["direction", "state", "partner_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f(INDEX), table_name="messages")
