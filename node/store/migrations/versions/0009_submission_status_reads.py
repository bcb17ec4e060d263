"""Index for a ministry's submissions by stored status (an answer, or none yet): the submissions list
filtered by delivered or by an answer counts them, and reads them whole when they are few, instead of
walking the ministry's messages past the answered ones.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 22:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

INDEXES = (("ix_submissions_ministry_status_id", ["ministry", "status", "id"]),)


def upgrade() -> None:
    for name, columns in INDEXES:
        op.create_index(op.f(name), "submissions", columns, unique=False)


def downgrade() -> None:
    for name, _ in reversed(INDEXES):
        op.drop_index(op.f(name), table_name="submissions")
