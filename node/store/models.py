"""The node's tables as SQLAlchemy 2 declarative models (one schema for SQLite and PostgreSQL).

Other helpers add tables on the same `Base` in their own module (lifecycle: node/store/lifecycle_models.py)
and their own Alembic revision chained after 0001; see node/store/migrations/__init__.py.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from node.store.types import BigIntId, UtcDateTime, utcnow

__all__ = [
    "AuditChain",
    "AuditRecord",
    "Base",
    "Delivery",
    "DeliveryState",
    "Direction",
    "Message",
    "MessageState",
    "Partner",
    "Payload",
    "Submission",
]

# Named constraints: Alembic can then alter them, also in SQLite batch mode.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Direction(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class MessageState(StrEnum):
    """Outbound: pending → sending → delivered | pending (retry) | failed; inbound: received."""

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    RECEIVED = "received"


class DeliveryState(StrEnum):
    """An inbound document on its way to a ministry: pending → delivered (webhook) | acked (pull) | failed."""

    PENDING = "pending"
    DELIVERED = "delivered"
    ACKED = "acked"
    FAILED = "failed"


class Partner(Base):
    """A foreign gateway's lifecycle state; its configuration lives in partners.yaml."""

    __tablename__ = "partners"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    party_id: Mapped[str] = mapped_column(String(255), index=True)
    party_id_type: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(32), default="registered")
    state_since: Mapped[datetime] = mapped_column(default=utcnow)
    state_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Submission(Base):
    """A ministry's request to send a document; `history` is a list of {at, status, detail}."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("ministry", "idempotency_key"),
        Index(None, "ministry", "created_at"),
        Index(None, "status", "created_at"),
        # A ministry's submissions in one stored status (an answer, or none yet), counted or read whole.
        Index(None, "ministry", "status", "id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ministry: Mapped[str] = mapped_column(String(64))
    document_type: Mapped[str] = mapped_column(String(32))
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(32))
    history: Mapped[list[Any]] = mapped_column(default=list)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_digest: Mapped[str | None] = mapped_column(String(71))
    document_digest: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    messages: Mapped[list[Message]] = relationship(back_populates="submission", lazy="raise")


class Message(Base):
    """One AS4 UserMessage, outbound or inbound. `id` is the monotonic sequence (order of submission)."""

    __tablename__ = "messages"
    __table_args__ = (
        # Duplicate elimination (inbound) and uniqueness of our own MessageIds (outbound).
        UniqueConstraint("partner_id", "message_id", "direction"),
        # The sender's "what is due" and the queue depth.
        Index(None, "direction", "state", "next_attempt_at"),
        # Expired claims of a killed node.
        Index(None, "state", "lease_until"),
        # The console and `aswnode messages`: newest first, per partner.
        Index(None, "created_at"),
        Index(None, "partner_id", "created_at"),
        # In-order sending: is an older message to this partner waiting for a retry?
        Index(None, "partner_id", "direction", "state", "id"),
        # The claim: which partners have queued messages (one seek per partner, however long the queue).
        Index(None, "direction", "state", "partner_id", "id"),
        # The ministry API's routing sweep.
        Index(None, "ministry"),
        # A ministry's submissions whose message is in one state (failed, pending), newest first.
        Index(None, "ministry", "state", "id"),
        # The console's failures of the last day and week (not every failure ever).
        Index(None, "state", "updated_at"),
        # The metrics, on every scrape: recent deliveries' latency, receipt failures.
        Index(None, "delivered_at"),
        Index(None, "receipt_status"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    direction: Mapped[str] = mapped_column(String(8))
    message_id: Mapped[str] = mapped_column(String(255), index=True)
    partner_id: Mapped[str] = mapped_column(String(64))
    service: Mapped[str] = mapped_column(String(512))
    service_type: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(512))
    conversation_id: Mapped[str | None] = mapped_column(String(255), index=True)
    ref_to_message_id: Mapped[str | None] = mapped_column(String(255), index=True)
    from_party_id: Mapped[str | None] = mapped_column(String(255))
    to_party_id: Mapped[str | None] = mapped_column(String(255))
    agreement_ref: Mapped[str | None] = mapped_column(String(512))
    pmode_id: Mapped[str | None] = mapped_column(String(255))
    document_type: Mapped[str | None] = mapped_column(String(32))
    ministry: Mapped[str | None] = mapped_column(String(64))
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # The signed (and encrypted) message exactly as on the wire, kept byte-identical for retries.
    wire_digest: Mapped[str | None] = mapped_column(String(64))
    wire_content_type: Mapped[str | None] = mapped_column(Text)
    # The wire bytes themselves when small (under the store's inline limit); else only the blob.
    # Deferred: loaded on access only (inside the session), not with every listed message.
    wire_bytes: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    # Outbound: what we signed (uri, digest method/value, transforms), to check the receipt's NRR.
    signed_references: Mapped[list[Any] | None] = mapped_column(JSON)
    # The receipt: for outbound the one received, for inbound the one answered (again, to duplicates).
    receipt_digest: Mapped[str | None] = mapped_column(String(64))
    receipt_content_type: Mapped[str | None] = mapped_column(Text)
    receipt_status: Mapped[str | None] = mapped_column(String(32))
    # The receipt's bytes (receipts are small: always inline; receipt_digest names them).
    receipt_bytes: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    submission_id: Mapped[str | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]

    payloads: Mapped[list[Payload]] = relationship(
        back_populates="message",
        order_by="Payload.position",
        lazy="selectin",
        cascade="all, delete-orphan",
    )
    submission: Mapped[Submission | None] = relationship(back_populates="messages", lazy="raise")


class Payload(Base):
    """One payload part of a message: its bytes in the row (`data`) when small, else in the blob store."""

    __tablename__ = "payloads"
    __table_args__ = (UniqueConstraint("message_pk", "position"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    content_id: Mapped[str | None] = mapped_column(String(255))
    mime_type: Mapped[str] = mapped_column(String(255))
    # The sha256 and size of the bytes, wherever they are kept: the names shown to ministries and operators.
    blob_digest: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The bytes themselves when small (up to the store's inline limit), else NULL: the blob `blob_digest`.
    # Deferred: listing messages (Message.payloads is loaded with every message) leaves them in the
    # database; a reader loads them inside its session (node.store.payloads.PAYLOADS_WITH_DATA).
    data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)

    message: Mapped[Message] = relationship(back_populates="payloads", lazy="raise")


class Delivery(Base):
    """An inbound message routed to a ministry: pushed by webhook or pulled from the inbox."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("message_pk", "ministry"),
        Index(None, "ministry", "state", "id"),
        Index(None, "state", "next_attempt_at"),
        # A ministry's inbox, every state, in order.
        Index(None, "ministry", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    ministry: Mapped[str] = mapped_column(String(64))
    document_type: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None]
    acked_at: Mapped[datetime | None]

    message: Mapped[Message] = relationship(lazy="raise")


class AuditRecord(Base):
    """One link of the audit hash chain (Decree 47 Art. 45): who did what, how, and the answer."""

    __tablename__ = "audit_records"
    __table_args__ = (Index(None, "subject", "seq"), Index(None, "actor", "seq"))

    seq: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(128))
    subject: Mapped[str] = mapped_column(String(512))
    form: Mapped[str] = mapped_column(String(16))
    request_digest: Mapped[str | None] = mapped_column(String(71))
    status: Mapped[str | None] = mapped_column(String(64))
    # Canonical JSON text, hashed as stored.
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditChain(Base):
    """The single head row of the audit chain: locked by every append, moved by the retention sweep.

    `anchor_seq`/`anchor_hash`: the first record kept and the prev_hash it must carry.
    """

    __tablename__ = "audit_chain"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    head_seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    anchor_seq: Mapped[int] = mapped_column(BigInteger)
    anchor_hash: Mapped[str] = mapped_column(String(64))
