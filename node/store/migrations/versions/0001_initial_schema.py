"""The node's first schema: partners, submissions, messages, payloads, deliveries, idempotency keys, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 09:16:24.947285
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import node.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("head_seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("anchor_seq", sa.BigInteger(), nullable=False),
        sa.Column("anchor_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain")),
    )
    op.create_table(
        "audit_records",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.Column("at", node.store.types.UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=128), nullable=False),
        sa.Column("subject", sa.String(length=512), nullable=False),
        sa.Column("form", sa.String(length=16), nullable=False),
        sa.Column("request_digest", sa.String(length=71), nullable=True),
        sa.Column("status", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_records")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_records_hash")),
    )
    op.create_index(op.f("ix_audit_records_actor_seq"), "audit_records", ["actor", "seq"], unique=False)
    op.create_index(op.f("ix_audit_records_at"), "audit_records", ["at"], unique=False)
    op.create_index(op.f("ix_audit_records_subject_seq"), "audit_records", ["subject", "seq"], unique=False)

    # The audit chain's head row exists from the start: appends lock it, never create it.
    op.bulk_insert(
        sa.table(
            "audit_chain",
            sa.column("id", sa.Integer()),
            sa.column("head_seq", sa.BigInteger()),
            sa.column("head_hash", sa.String()),
            sa.column("anchor_seq", sa.BigInteger()),
            sa.column("anchor_hash", sa.String()),
        ),
        [{"id": 1, "head_seq": 0, "head_hash": GENESIS, "anchor_seq": 1, "anchor_hash": GENESIS}],
    )

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
    op.create_index(op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"], unique=False)

    op.create_table(
        "partners",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("party_id", sa.String(length=255), nullable=False),
        sa.Column("party_id_type", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("state_since", node.store.types.UtcDateTime(), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("created_at", node.store.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", node.store.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
    )
    op.create_index(op.f("ix_partners_party_id"), "partners", ["party_id"], unique=False)

    op.create_table(
        "submissions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("ministry", sa.String(length=64), nullable=False),
        sa.Column("document_type", sa.String(length=32), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_digest", sa.String(length=71), nullable=True),
        sa.Column("document_digest", sa.String(length=64), nullable=True),
        sa.Column("created_at", node.store.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", node.store.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
        sa.UniqueConstraint(
            "ministry", "idempotency_key", name=op.f("uq_submissions_ministry_idempotency_key")
        ),
    )
    op.create_index(
        op.f("ix_submissions_ministry_created_at"), "submissions", ["ministry", "created_at"], unique=False
    )
    op.create_index(op.f("ix_submissions_partner_id"), "submissions", ["partner_id"], unique=False)
    op.create_index(
        op.f("ix_submissions_status_created_at"), "submissions", ["status", "created_at"], unique=False
    )

    op.create_table(
        "messages",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=512), nullable=False),
        sa.Column("service_type", sa.String(length=255), nullable=True),
        sa.Column("action", sa.String(length=512), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=True),
        sa.Column("ref_to_message_id", sa.String(length=255), nullable=True),
        sa.Column("from_party_id", sa.String(length=255), nullable=True),
        sa.Column("to_party_id", sa.String(length=255), nullable=True),
        sa.Column("agreement_ref", sa.String(length=512), nullable=True),
        sa.Column("pmode_id", sa.String(length=255), nullable=True),
        sa.Column("document_type", sa.String(length=32), nullable=True),
        sa.Column("ministry", sa.String(length=64), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", node.store.types.UtcDateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("lease_until", node.store.types.UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("wire_digest", sa.String(length=64), nullable=True),
        sa.Column("wire_content_type", sa.Text(), nullable=True),
        sa.Column("receipt_digest", sa.String(length=64), nullable=True),
        sa.Column("receipt_content_type", sa.Text(), nullable=True),
        sa.Column("receipt_status", sa.String(length=32), nullable=True),
        sa.Column("is_test", sa.Boolean(), nullable=False),
        sa.Column("submission_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", node.store.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", node.store.types.UtcDateTime(), nullable=False),
        sa.Column("sent_at", node.store.types.UtcDateTime(), nullable=True),
        sa.Column("delivered_at", node.store.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_messages_submission_id_submissions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint(
            "partner_id", "message_id", "direction", name=op.f("uq_messages_partner_id_message_id_direction")
        ),
    )
    op.create_index(op.f("ix_messages_conversation_id"), "messages", ["conversation_id"], unique=False)
    op.create_index(op.f("ix_messages_created_at"), "messages", ["created_at"], unique=False)
    op.create_index(
        op.f("ix_messages_direction_state_next_attempt_at"),
        "messages",
        ["direction", "state", "next_attempt_at"],
        unique=False,
    )
    op.create_index(op.f("ix_messages_message_id"), "messages", ["message_id"], unique=False)
    op.create_index(
        op.f("ix_messages_partner_id_created_at"), "messages", ["partner_id", "created_at"], unique=False
    )
    op.create_index(
        op.f("ix_messages_partner_id_direction_state_id"),
        "messages",
        ["partner_id", "direction", "state", "id"],
        unique=False,
    )
    op.create_index(op.f("ix_messages_ref_to_message_id"), "messages", ["ref_to_message_id"], unique=False)
    op.create_index(op.f("ix_messages_state_lease_until"), "messages", ["state", "lease_until"], unique=False)
    op.create_index(op.f("ix_messages_submission_id"), "messages", ["submission_id"], unique=False)

    op.create_table(
        "deliveries",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("message_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ministry", sa.String(length=64), nullable=False),
        sa.Column("document_type", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", node.store.types.UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", node.store.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", node.store.types.UtcDateTime(), nullable=False),
        sa.Column("delivered_at", node.store.types.UtcDateTime(), nullable=True),
        sa.Column("acked_at", node.store.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_pk"],
            ["messages.id"],
            name=op.f("fk_deliveries_message_pk_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("message_pk", "ministry", name=op.f("uq_deliveries_message_pk_ministry")),
    )
    op.create_index(
        op.f("ix_deliveries_ministry_state_id"), "deliveries", ["ministry", "state", "id"], unique=False
    )
    op.create_index(
        op.f("ix_deliveries_state_next_attempt_at"), "deliveries", ["state", "next_attempt_at"], unique=False
    )

    op.create_table(
        "payloads",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("message_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("content_id", sa.String(length=255), nullable=True),
        sa.Column("mime_type", sa.String(length=255), nullable=False),
        sa.Column("blob_digest", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_pk"], ["messages.id"], name=op.f("fk_payloads_message_pk_messages"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payloads")),
        sa.UniqueConstraint("message_pk", "position", name=op.f("uq_payloads_message_pk_position")),
    )
    op.create_index(op.f("ix_payloads_blob_digest"), "payloads", ["blob_digest"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_payloads_blob_digest"), table_name="payloads")

    op.drop_table("payloads")
    op.drop_index(op.f("ix_deliveries_state_next_attempt_at"), table_name="deliveries")
    op.drop_index(op.f("ix_deliveries_ministry_state_id"), table_name="deliveries")

    op.drop_table("deliveries")
    op.drop_index(op.f("ix_messages_submission_id"), table_name="messages")
    op.drop_index(op.f("ix_messages_state_lease_until"), table_name="messages")
    op.drop_index(op.f("ix_messages_ref_to_message_id"), table_name="messages")
    op.drop_index(op.f("ix_messages_partner_id_created_at"), table_name="messages")
    op.drop_index(op.f("ix_messages_partner_id_direction_state_id"), table_name="messages")
    op.drop_index(op.f("ix_messages_message_id"), table_name="messages")
    op.drop_index(op.f("ix_messages_direction_state_next_attempt_at"), table_name="messages")
    op.drop_index(op.f("ix_messages_created_at"), table_name="messages")
    op.drop_index(op.f("ix_messages_conversation_id"), table_name="messages")

    op.drop_table("messages")
    op.drop_index(op.f("ix_submissions_status_created_at"), table_name="submissions")
    op.drop_index(op.f("ix_submissions_partner_id"), table_name="submissions")
    op.drop_index(op.f("ix_submissions_ministry_created_at"), table_name="submissions")

    op.drop_table("submissions")
    op.drop_index(op.f("ix_partners_party_id"), table_name="partners")

    op.drop_table("partners")
    op.drop_index(op.f("ix_idempotency_keys_created_at"), table_name="idempotency_keys")

    op.drop_table("idempotency_keys")
    op.drop_index(op.f("ix_audit_records_subject_seq"), table_name="audit_records")
    op.drop_index(op.f("ix_audit_records_at"), table_name="audit_records")
    op.drop_index(op.f("ix_audit_records_actor_seq"), table_name="audit_records")

    op.drop_table("audit_records")
    op.drop_table("audit_chain")
