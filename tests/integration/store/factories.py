"""Rows for the message tests: outbound and inbound messages with one payload each."""

from __future__ import annotations

from datetime import datetime, timedelta

from node.store.blobs import BlobRef
from node.store.messages import (
    NewPayload,
    claim_due,
    create_outbound,
    store_inbound,
)
from node.store.models import Message

LEASE = timedelta(minutes=5)


BLOB = BlobRef("ab" * 32, 10)


def outbound(session, now: datetime, n: int, *, partner: str = "th", first: int = 0, **extra) -> list[int]:
    ids = []
    for i in range(first, first + n):
        message = create_outbound(
            session,
            partner_id=partner,
            message_id=f"m{i}-{partner}@aswnode",
            service="urn:svc",
            action="Deliver",
            payloads=(NewPayload(BLOB, "application/xml", f"p{i}@x", (("MimeType", "application/xml"),)),),
            now=now,
            **extra,
        )
        ids.append(message.id)
    return ids


def inbound(session, now, message_id="in-1@them", partner="th", audit=None, **extra) -> Message:
    return store_inbound(
        session,
        partner_id=partner,
        message_id=message_id,
        service="urn:svc",
        action="Deliver",
        payloads=(NewPayload(BLOB, "application/xml", "doc@them"),),
        now=now,
        wire_digest="12" * 32,
        receipt_digest="34" * 32,
        audit=audit,
        **extra,
    )


def claim(session, at: datetime) -> list[int]:
    return [m.id for m in claim_due(session, claimer="n", now=at, lease=LEASE)]
