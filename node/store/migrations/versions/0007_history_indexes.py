"""Indexes for what is read from a long history: delivery latency and receipt failures (the metrics,
every scrape), a ministry's inbox listing.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 19:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_messages_delivered_at", "messages", ["delivered_at"]),
    ("ix_messages_receipt_status", "messages", ["receipt_status"]),
    ("ix_deliveries_ministry_id", "deliveries", ["ministry", "id"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(op.f(name), table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(op.f(name), table_name=table)
