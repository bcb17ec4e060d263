"""Indexes for reads by message state over a long history: a ministry's failed (or pending) submissions
newest first, the console's failures of the last day and week.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 20:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_messages_ministry_state_id", ["ministry", "state", "id"]),
    ("ix_messages_state_updated_at", ["state", "updated_at"]),
)


def upgrade() -> None:
    for name, columns in INDEXES:
        op.create_index(op.f(name), "messages", columns, unique=False)


def downgrade() -> None:
    for name, _ in reversed(INDEXES):
        op.drop_index(op.f(name), table_name="messages")
