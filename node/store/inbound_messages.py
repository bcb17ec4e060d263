"""Received messages: duplicate look-up, storing a message with its payloads and audit, its receipt.

Every function takes the caller's session (one transaction) and an aware UTC `now`; none commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session

from node.store.direct import DirectRead, DirectWrite
from node.store.models import Direction, Message, MessageState
from node.store.payloads import NewPayload, insert_payloads

if TYPE_CHECKING:
    from node.audit import AuditLog

__all__ = ["find_received", "find_received_receipt", "insert_inbound", "set_receipt", "store_inbound"]


def find_received(
    session: Session, *, partner_id: str, message_id: str, since: datetime | None = None
) -> Message | None:
    """The inbound message `message_id` from `partner_id`, if received at or after `since`."""
    query = select(Message).where(
        Message.partner_id == partner_id,
        Message.message_id == message_id,
        Message.direction == Direction.INBOUND,
    )
    if since is not None:
        query = query.where(Message.created_at >= since)
    return session.scalars(query).one_or_none()


# The receiver runs these for every message: built once, run on the driver's cursor (node.store.direct).
_MESSAGES = Message.__table__
_RECEIVED_RECEIPT = DirectRead(
    select(
        _MESSAGES.c.id,
        _MESSAGES.c.created_at,
        _MESSAGES.c.receipt_bytes,
        _MESSAGES.c.receipt_digest,
        _MESSAGES.c.receipt_content_type,
    ).where(
        _MESSAGES.c.partner_id == bindparam("partner_id"),
        _MESSAGES.c.message_id == bindparam("message_id"),
        _MESSAGES.c.direction == Direction.INBOUND.value,
    )
)
_MESSAGE_VALUES = [
    "direction",
    "message_id",
    "partner_id",
    "service",
    "service_type",
    "action",
    "conversation_id",
    "ref_to_message_id",
    "from_party_id",
    "to_party_id",
    "agreement_ref",
    "pmode_id",
    "document_type",
    "ministry",
    "is_test",
    "properties",
    "state",
    "attempts",
    "wire_digest",
    "wire_content_type",
    "wire_bytes",
    "receipt_digest",
    "receipt_bytes",
    "receipt_content_type",
    "receipt_status",
    "created_at",
    "updated_at",
]
_INSERT_MESSAGE = DirectWrite(insert(_MESSAGES).returning(_MESSAGES.c.id), keys=_MESSAGE_VALUES)


def find_received_receipt(session: Session | Connection, *, partner_id: str, message_id: str) -> Any | None:
    """(id, created_at, receipt_bytes, receipt_digest, receipt_content_type) of the inbound message
    `message_id` from `partner_id`, if it was received: what answering its duplicate needs."""
    params = {"partner_id": partner_id, "message_id": message_id}
    return _RECEIVED_RECEIPT.first(session, params)


def store_inbound(session: Session, **fields: Any) -> Message:
    """`insert_inbound`, then the stored message as an ORM object (with its payloads)."""
    message = session.get(Message, insert_inbound(session, **fields))
    assert message is not None
    return message


def insert_inbound(
    session: Session,
    *,
    partner_id: str,
    message_id: str,
    service: str,
    action: str,
    payloads: Sequence[NewPayload],
    now: datetime,
    wire_digest: str | None,
    wire_content_type: str | None = None,
    wire_bytes: bytes | None = None,
    receipt_digest: str | None = None,
    receipt_bytes: bytes | None = None,
    receipt_content_type: str | None = None,
    service_type: str | None = None,
    conversation_id: str | None = None,
    ref_to_message_id: str | None = None,
    from_party_id: str | None = None,
    to_party_id: str | None = None,
    agreement_ref: str | None = None,
    pmode_id: str | None = None,
    document_type: str | None = None,
    ministry: str | None = None,
    is_test: bool = False,
    properties: Mapping[str, Any] | None = None,
    audit: AuditLog | None = None,
    audit_status: str = "receipt",
) -> int:
    """A received message (state `received`), its payloads and, given an AuditLog, its audit record.

    On the driver's cursor (the receiver's hot path); returns the message's sequence number.
    `wire_bytes`/`receipt_bytes` and each NewPayload's `data`: the bytes inline (small ones), beside
    their digests.
    A second message with the same (partner, MessageId) raises IntegrityError: check
    `find_received` first; the unique constraint is the last line against a race.
    """
    connection = session.connection()
    [inserted] = _INSERT_MESSAGE.returning(
        connection,
        dict(
            direction=Direction.INBOUND,
            message_id=message_id,
            partner_id=partner_id,
            service=service,
            service_type=service_type,
            action=action,
            conversation_id=conversation_id,
            ref_to_message_id=ref_to_message_id,
            from_party_id=from_party_id,
            to_party_id=to_party_id,
            agreement_ref=agreement_ref,
            pmode_id=pmode_id,
            document_type=document_type,
            ministry=ministry,
            is_test=is_test,
            properties=dict(properties or {}),
            state=MessageState.RECEIVED,
            attempts=0,
            wire_digest=wire_digest,
            wire_content_type=wire_content_type,
            wire_bytes=wire_bytes,
            receipt_digest=receipt_digest,
            receipt_bytes=receipt_bytes,
            receipt_content_type=receipt_content_type,
            receipt_status="sent" if receipt_digest else None,
            created_at=now,
            updated_at=now,
        ),
    )
    pk = inserted.id
    insert_payloads(connection, pk, payloads)
    if audit is not None:
        audit.append(
            session,
            f"partner:{partner_id}",
            "as4.receive",
            f"message:{message_id}",
            {
                "service": service,
                "action": action,
                "payloads": [[p.blob.digest, p.blob.size] for p in payloads],
                "test": is_test,
            },
            f"sha256:{wire_digest}" if wire_digest else None,
            audit_status,
            form="as4",
            at=now,
        )
    return int(pk)


def set_receipt(session: Session, pk: int, *, digest: str, content_type: str | None, now: datetime) -> None:
    """Record the receipt answered for an inbound message (answered again to its duplicates)."""
    session.execute(
        update(Message)
        .where(Message.id == pk)
        .values(
            receipt_digest=digest, receipt_content_type=content_type, receipt_status="sent", updated_at=now
        )
    )
