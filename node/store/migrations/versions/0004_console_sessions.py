"""Console sessions (node/console/session_models.py): operators stay logged in across restarts and nodes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import node.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id_digest", sa.String(length=64), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("credential", sa.String(length=64), nullable=False),
        sa.Column("created_at", node.store.types.UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", node.store.types.UtcDateTime(), nullable=False),
        sa.Column("flashes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id_digest", name=op.f("pk_console_sessions")),
    )
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_console_sessions_last_seen_at"), ["last_seen_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_console_sessions_operator"), ["operator"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_sessions_operator"))
        batch_op.drop_index(batch_op.f("ix_console_sessions_last_seen_at"))
    op.drop_table("console_sessions")
