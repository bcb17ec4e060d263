"""Small wire messages and receipts inline, signed references in a column, messages(ministry) index.

Also drops `idempotency_keys`: submissions keep their idempotency key themselves.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:25:12.298722
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

import node.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

REFERENCES_KEY = "_aswnode_signed_references"


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wire_bytes", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("signed_references", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("receipt_bytes", sa.LargeBinary(), nullable=True))
        batch_op.create_index(batch_op.f("ix_messages_ministry"), ["ministry"], unique=False)
    _move_references()


def _move_references() -> None:
    """Built outbound messages kept what they signed in properties: move it to its column."""
    messages = sa.table(
        "messages",
        sa.column("id", sa.BigInteger()),
        sa.column("direction", sa.String()),
        sa.column("wire_digest", sa.String()),
        sa.column("properties", sa.JSON()),
        sa.column("signed_references", sa.JSON()),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(messages.c.id, messages.c.properties).where(
            messages.c.direction == "outbound", messages.c.wire_digest.is_not(None)
        )
    ).all()
    for pk, properties in rows:
        if isinstance(properties, str):
            properties = json.loads(properties)
        properties = dict(properties or {})
        references = properties.pop(REFERENCES_KEY, None)
        if references is None:
            continue
        connection.execute(
            sa.update(messages)
            .where(messages.c.id == pk)
            .values(signed_references=references, properties=properties)
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_ministry"))
        batch_op.drop_column("receipt_bytes")
        batch_op.drop_column("signed_references")
        batch_op.drop_column("wire_bytes")
    op.create_table(
        "idempotency_keys",
        sa.Column("ministry", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_digest", sa.String(length=71), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.JSON(), nullable=False),
        sa.Column("created_at", node.store.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("ministry", "key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False)
