"""The outbound queue: create a message, claim due ones under a lease, settle each send.

Every function takes the caller's session (one transaction) and an aware UTC `now`; none commits.
Each transition is one conditional UPDATE, so two nodes cannot both make it:

    state      event                          function         next state
    (new)      submission                     create_outbound  pending
    pending    due, claimed                   claim_due        sending   (attempts + 1)
    sending    lease ran out (holder died)    claim_due        sending   (another claimer)
    sending    receipt verified               mark_delivered   delivered
    sending    retryable error                mark_retry       pending   (next_attempt_at)
    sending    fatal error / retries spent    mark_failed      failed
    sending    clean stop                     release_claims   pending   (attempts - 1)
    failed     operator resends               resend           pending
    any        late receipt                   mark_delivered   delivered
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, and_, bindparam, case, func, null, or_, select, union_all, update
from sqlalchemy.orm import Session

from node.store.direct import DirectRead, DirectWrite
from node.store.models import Direction, Message, MessageState, Payload
from node.store.payloads import NewPayload, add_payloads

__all__ = [
    "ClaimedMessage",
    "ClaimedPayload",
    "claim_due",
    "create_outbound",
    "mark_delivered",
    "mark_failed",
    "mark_retry",
    "release_claims",
    "renew_lease",
    "resend",
    "set_wire",
]


def create_outbound(
    session: Session,
    *,
    partner_id: str,
    message_id: str,
    service: str,
    action: str,
    payloads: Sequence[NewPayload],
    now: datetime,
    service_type: str | None = None,
    conversation_id: str | None = None,
    ref_to_message_id: str | None = None,
    from_party_id: str | None = None,
    to_party_id: str | None = None,
    agreement_ref: str | None = None,
    pmode_id: str | None = None,
    document_type: str | None = None,
    ministry: str | None = None,
    submission_id: str | None = None,
    is_test: bool = False,
    properties: Mapping[str, Any] | None = None,
    not_before: datetime | None = None,
) -> Message:
    """A new outbound message in state `pending`, due at `not_before` (default now), with its payloads."""
    message = Message(
        direction=Direction.OUTBOUND,
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
        submission_id=submission_id,
        is_test=is_test,
        properties=dict(properties or {}),
        state=MessageState.PENDING,
        attempts=0,
        next_attempt_at=not_before or now,
        created_at=now,
        updated_at=now,
    )
    add_payloads(message, payloads)
    session.add(message)
    session.flush()
    return message


_MESSAGES = Message.__table__
# "now" of the prebuilt statements, typed as the columns it is compared with and written to.
_NOW = bindparam("now_", type_=_MESSAGES.c.updated_at.type)
_SET_WIRE = DirectWrite(
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("pk"))
    .values(
        wire_digest=bindparam("digest_"),
        wire_content_type=bindparam("content_type_"),
        wire_bytes=bindparam("bytes_"),
        signed_references=bindparam("references_", type_=_MESSAGES.c.signed_references.type),
        updated_at=_NOW,
    )
)
# The partner answers again: its messages waiting for a retry are due at once (in order).
_WAKE_RETRIES = DirectWrite(
    update(_MESSAGES)
    .where(
        _MESSAGES.c.partner_id
        == select(_MESSAGES.c.partner_id).where(_MESSAGES.c.id == bindparam("pk")).scalar_subquery(),
        _MESSAGES.c.direction == Direction.OUTBOUND,
        _MESSAGES.c.state == MessageState.PENDING,
        _MESSAGES.c.attempts > 0,
        _MESSAGES.c.next_attempt_at > _NOW,
    )
    .values(next_attempt_at=_NOW, updated_at=_NOW)
)
_DELIVERED = DirectWrite(
    update(_MESSAGES)
    .where(
        _MESSAGES.c.id == bindparam("pk"),
        _MESSAGES.c.direction == Direction.OUTBOUND,
        _MESSAGES.c.state != MessageState.DELIVERED,
    )
    .values(
        state=MessageState.DELIVERED,
        receipt_digest=bindparam("digest_"),
        receipt_bytes=bindparam("bytes_"),
        receipt_content_type=bindparam("content_type_"),
        receipt_status=bindparam("status_"),
        claimed_by=None,
        lease_until=None,
        next_attempt_at=None,
        last_error=None,
        delivered_at=_NOW,
        sent_at=func.coalesce(_MESSAGES.c.sent_at, _NOW),
        updated_at=_NOW,
    )
)


def set_wire(
    session: Session,
    pk: int,
    *,
    digest: str,
    content_type: str,
    now: datetime,
    wire_bytes: bytes | None = None,
    signed_references: list[Any] | None = None,
) -> None:
    """Record the built (signed, encrypted) message, sent byte-identical on every retry.

    `wire_bytes`: the bytes inline when small (else they are only in the blob store under `digest`);
    `signed_references`: what was signed, to check the receipt's non-repudiation information.
    """
    _SET_WIRE.execute(
        session,
        {
            "pk": pk,
            "digest_": digest,
            "content_type_": content_type,
            "bytes_": wire_bytes,
            "references_": signed_references,
            "now_": now,
        },
    )


_PAYLOADS = Payload.__table__


@dataclass(frozen=True, slots=True)
class ClaimedPayload:
    """What the sender needs of one payload to build the message."""

    blob_digest: str
    mime_type: str
    content_id: str | None
    properties: dict[str, Any]
    # The bytes when kept in the row (else the blob `blob_digest`); only for a message still to be
    # built: one already built is sent from its wire bytes.
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """A message claimed for sending: the values the sender needs, read without the ORM (hot path)."""

    id: int
    message_id: str
    partner_id: str
    claimed_by: str
    lease_until: datetime
    attempts: int
    service: str
    service_type: str | None
    action: str
    conversation_id: str | None
    ref_to_message_id: str | None
    agreement_ref: str | None
    properties: dict[str, Any]
    created_at: datetime
    wire_digest: str | None
    wire_content_type: str | None
    wire_bytes: bytes | None
    signed_references: list[Any] | None
    payloads: tuple[ClaimedPayload, ...]
    state: str = MessageState.SENDING


def _due(now: Any) -> Any:
    t = _MESSAGES
    return and_(
        t.c.direction == Direction.OUTBOUND,
        or_(
            and_(
                t.c.state == MessageState.PENDING,
                or_(t.c.next_attempt_at.is_(None), t.c.next_attempt_at <= now),
            ),
            # A claim whose holder died (kill -9) or hung: its lease ran out.
            and_(t.c.state == MessageState.SENDING, t.c.lease_until < now),
        ),
    )


def _due_ids(now: Any) -> Any:
    """The same rows as `_due`, as a union each part of which an index answers (SQLite would scan)."""
    t = _MESSAGES
    outbound_pending = (t.c.direction == Direction.OUTBOUND, t.c.state == MessageState.PENDING)
    return union_all(
        select(t.c.id).where(*outbound_pending, t.c.next_attempt_at <= now),
        select(t.c.id).where(*outbound_pending, t.c.next_attempt_at.is_(None)),
        select(t.c.id).where(t.c.state == MessageState.SENDING, t.c.lease_until < now),
    )


def _held_behind_a_retry(now: Any) -> Any:
    """An older message to the same partner is waiting to be retried (or is being retried)."""
    t, older = _MESSAGES, _MESSAGES.alias("older")
    return (
        select(older.c.id)
        .where(
            older.c.partner_id == t.c.partner_id,
            older.c.direction == Direction.OUTBOUND,
            older.c.id < t.c.id,
            or_(
                and_(older.c.state == MessageState.PENDING, older.c.attempts > 0),
                and_(older.c.state == MessageState.SENDING, older.c.attempts > 1, older.c.lease_until >= now),
            ),
        )
        .exists()
    )


def _beyond_window(window_offset: Any) -> Any:
    """At least `window_offset + 1` older messages to the same partner are still queued or in flight."""
    t, older = _MESSAGES, _MESSAGES.alias("older")
    return (
        select(older.c.id)
        .where(
            older.c.partner_id == t.c.partner_id,
            older.c.direction == Direction.OUTBOUND,
            # Not IN (...): a literal list is expanded at run time, which DirectRead refuses.
            or_(older.c.state == MessageState.PENDING, older.c.state == MessageState.SENDING),
            older.c.id < t.c.id,
        )
        .order_by(older.c.id.desc())
        .limit(1)
        .offset(window_offset)
        .exists()
    )


def claim_due(
    session: Session,
    *,
    claimer: str,
    now: datetime,
    lease: timedelta,
    limit: int = 16,
    partner_id: str | None = None,
    in_order: bool = True,
    window: int | None = None,
) -> list[ClaimedMessage]:
    """Claim up to `limit` due outbound messages, oldest first, for `lease`; each claim counts an attempt.

    PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent claimers (threads, nodes) never get the
    same message. SQLite: the write transaction holds the one database lock (BEGIN IMMEDIATE).
    Commit promptly: the claim is only visible to others when the transaction commits.

    `in_order`: while an older message to a partner waits for (or is in) a retry, the partner is
    taken to be down and its younger messages wait behind it, so that when it comes back they go
    out in order of submission, and a down partner costs one retry at a time, not one per message.
    Messages to a partner that answers are claimed many at a time (no head-of-line blocking).

    `window`: per partner only messages among the first `window` of its queue (pending or
    sending, in order of submission) are claimed; 1 sends strictly one at a time, in order.
    On the driver's cursor (node.store.direct): the select, then per message its claim and its payloads.
    """
    if limit < 1:
        raise ValueError("claim at least one message")
    if window is not None and window < 1:
        raise ValueError("a window holds at least one message")
    query = _claim_query(partner_id is not None, in_order, window is not None)
    params: dict[str, Any] = {"now": now, "limit": limit}
    if partner_id is not None:
        params["partner_id"] = partner_id
    if window is not None:
        params["window_offset"] = window - 1
    rows = query.rows(session, params)
    if not rows:
        return []
    until = now + lease
    connection = session.connection()
    payloads: dict[int, list[ClaimedPayload]] = {}
    # One short statement per message on the driver's cursor costs less than one expanded IN list
    # through SQLAlchemy; a delivered message's slot is refilled one message at a time anyway.
    for row in rows:
        _CLAIM.execute_on(connection, {"pk": row.id, "claimer_": claimer, "until_": until, "now_": now})
        payloads[row.id] = [
            ClaimedPayload(p.blob_digest, p.mime_type, p.content_id, p.properties or {}, p.data)
            for p in _CLAIMED_PAYLOADS.rows_on(connection, {"pk": row.id})
        ]
    return [
        ClaimedMessage(
            id=row.id,
            message_id=row.message_id,
            partner_id=row.partner_id,
            claimed_by=claimer,
            lease_until=until,
            attempts=row.attempts + 1,
            service=row.service,
            service_type=row.service_type,
            action=row.action,
            conversation_id=row.conversation_id,
            ref_to_message_id=row.ref_to_message_id,
            agreement_ref=row.agreement_ref,
            properties=dict(row.properties or {}),
            created_at=row.created_at,
            wire_digest=row.wire_digest,
            wire_content_type=row.wire_content_type,
            wire_bytes=row.wire_bytes,
            signed_references=row.signed_references,
            payloads=tuple(payloads[row.id]),
        )
        for row in rows
    ]


_CLAIM = DirectWrite(
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("pk"))
    .values(
        state=MessageState.SENDING,
        claimed_by=bindparam("claimer_"),
        lease_until=bindparam("until_"),
        attempts=_MESSAGES.c.attempts + 1,
        updated_at=_NOW,
    )
)
_CLAIMED_PAYLOADS = DirectRead(
    select(
        _PAYLOADS.c.message_pk,
        _PAYLOADS.c.blob_digest,
        _PAYLOADS.c.mime_type,
        _PAYLOADS.c.content_id,
        _PAYLOADS.c.properties,
        case((_MESSAGES.c.wire_digest.is_(None), _PAYLOADS.c.data), else_=null()).label("data"),
    )
    .join_from(_PAYLOADS, _MESSAGES, _MESSAGES.c.id == _PAYLOADS.c.message_pk)
    .where(_PAYLOADS.c.message_pk == bindparam("pk"))
    .order_by(_PAYLOADS.c.position)
)


@lru_cache(maxsize=16)
def _claim_query(by_partner: bool, in_order: bool, windowed: bool) -> DirectRead:
    """The claim's SELECT, built once (building it costs more than running it) and run on the driver's
    cursor; bound: now, limit, ..."""
    t = _MESSAGES
    now = bindparam("now", type_=t.c.next_attempt_at.type)
    # `_due` again on the row itself: PostgreSQL rechecks it on a row changed since the snapshot.
    query = select(
        t.c.id,
        t.c.message_id,
        t.c.partner_id,
        t.c.attempts,
        t.c.service,
        t.c.service_type,
        t.c.action,
        t.c.conversation_id,
        t.c.ref_to_message_id,
        t.c.agreement_ref,
        t.c.properties,
        t.c.created_at,
        t.c.wire_digest,
        t.c.wire_content_type,
        t.c.wire_bytes,
        t.c.signed_references,
    ).where(t.c.id.in_(_due_ids(now)), _due(now))
    if by_partner:
        query = query.where(t.c.partner_id == bindparam("partner_id"))
    if in_order:
        query = query.where(~_held_behind_a_retry(now))
    if windowed:
        query = query.where(~_beyond_window(bindparam("window_offset", type_=Integer())))
    return DirectRead(
        query.order_by(t.c.id)
        .limit(bindparam("limit", type_=Integer()))
        .with_for_update(skip_locked=True, of=t)
    )


def renew_lease(session: Session, pk: int, *, claimer: str, until: datetime) -> bool:
    """Extend a claim still held by `claimer` (a long send); False if it was lost."""
    result = session.execute(
        update(Message)
        .where(Message.id == pk, Message.state == MessageState.SENDING, Message.claimed_by == claimer)
        .values(lease_until=until)
    )
    return bool(result.rowcount)


def release_claims(session: Session, *, claimer: str, now: datetime) -> int:
    """Give back every message `claimer` holds (clean stop), due at once; the attempt is not counted."""
    result = session.execute(
        update(Message)
        .where(Message.state == MessageState.SENDING, Message.claimed_by == claimer)
        .values(
            state=MessageState.PENDING,
            claimed_by=None,
            lease_until=None,
            next_attempt_at=now,
            attempts=Message.attempts - 1,
            updated_at=now,
        )
    )
    return result.rowcount or 0


def mark_delivered(
    session: Session,
    pk: int,
    *,
    receipt_digest: str | None,
    now: datetime,
    receipt_content_type: str | None = None,
    receipt_status: str = "valid",
    receipt_bytes: bytes | None = None,
    wake_retries: bool = True,
) -> bool:
    """A verified receipt closes the message from any state (also a late receipt after `failed`).

    False if it was already delivered (the first receipt stays). The partner answers again, so
    its messages waiting for a retry are due at once (in order, see `claim_due`); a caller that
    knows none waits may skip that (`wake_retries=False`): they would go out at their time anyway.
    """
    # On the driver's cursor (node.store.direct): the sender's hot path.
    if wake_retries:
        _WAKE_RETRIES.execute(session, {"pk": pk, "now_": now})
    changed = _DELIVERED.execute(
        session,
        {
            "pk": pk,
            "digest_": receipt_digest,
            "bytes_": receipt_bytes,
            "content_type_": receipt_content_type,
            "status_": receipt_status,
            "now_": now,
        },
    )
    return bool(changed)


def _settle_claim(session: Session, pk: int, claimer: str | None, values: dict[str, Any]) -> bool:
    table = Message.__table__
    conditions = [table.c.id == pk, table.c.state == MessageState.SENDING]
    if claimer is not None:
        conditions.append(table.c.claimed_by == claimer)
    result = session.execute(update(table).where(*conditions).values(**values))
    return bool(result.rowcount)


def mark_retry(
    session: Session,
    pk: int,
    *,
    claimer: str | None,
    error: str,
    next_attempt_at: datetime,
    now: datetime,
    receipt_status: str | None = None,
) -> bool:
    """Back to `pending`, due at `next_attempt_at`. False if `claimer` no longer holds the claim."""
    return _settle_claim(
        session,
        pk,
        claimer,
        {
            "state": MessageState.PENDING,
            "claimed_by": None,
            "lease_until": None,
            "next_attempt_at": next_attempt_at,
            "last_error": error,
            "receipt_status": receipt_status,
            "updated_at": now,
        },
    )


def mark_failed(
    session: Session,
    pk: int,
    *,
    claimer: str | None,
    error: str,
    now: datetime,
    receipt_status: str | None = None,
) -> bool:
    """`failed`: retries spent or a fatal error. False if `claimer` no longer holds the claim."""
    return _settle_claim(
        session,
        pk,
        claimer,
        {
            "state": MessageState.FAILED,
            "claimed_by": None,
            "lease_until": None,
            "next_attempt_at": None,
            "last_error": error,
            "receipt_status": receipt_status,
            "updated_at": now,
        },
    )


def resend(session: Session, pk: int, *, now: datetime, reset_attempts: bool = True) -> bool:
    """An operator's resend of a `failed` message: `pending` again, same MessageId and wire bytes."""
    values: dict[str, Any] = {"state": MessageState.PENDING, "next_attempt_at": now, "updated_at": now}
    if reset_attempts:
        values["attempts"] = 0
    result = session.execute(
        update(Message)
        .where(
            Message.id == pk, Message.direction == Direction.OUTBOUND, Message.state == MessageState.FAILED
        )
        .values(**values)
    )
    return bool(result.rowcount)
