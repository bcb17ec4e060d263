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

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    and_,
    bindparam,
    case,
    func,
    insert,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from node.store.direct import DirectRead, DirectWrite
from node.store.models import Direction, Message, MessageState, Payload
from node.store.payloads import NewPayload, insert_payloads

__all__ = [
    "ClaimedMessage",
    "ClaimedPayload",
    "QueuedMessage",
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


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """A message `create_outbound` queued: its sequence number (`Message.id`) and MessageId."""

    id: int
    message_id: str


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
) -> QueuedMessage:
    """A new outbound message in state `pending`, due at `not_before` (default now), with its payloads.

    Core INSERTs on the driver's cursor in the session's transaction (every submission runs them; the
    ORM's unit of work cost ~1 ms of CPU a message): later reads in the transaction see the rows, and
    `session.get(Message, queued.id)` loads it as an ORM object.
    """
    session.flush()  # a submission added to the session is written before its message (foreign key)
    connection = session.connection()
    [inserted] = _INSERT_OUTBOUND.returning(
        connection,
        {
            "direction": Direction.OUTBOUND,
            "message_id": message_id,
            "partner_id": partner_id,
            "service": service,
            "service_type": service_type,
            "action": action,
            "conversation_id": conversation_id,
            "ref_to_message_id": ref_to_message_id,
            "from_party_id": from_party_id,
            "to_party_id": to_party_id,
            "agreement_ref": agreement_ref,
            "pmode_id": pmode_id,
            "document_type": document_type,
            "ministry": ministry,
            "submission_id": submission_id,
            "is_test": is_test,
            "properties": dict(properties or {}),
            "state": MessageState.PENDING,
            "attempts": 0,
            "next_attempt_at": not_before or now,
            "created_at": now,
            "updated_at": now,
        },
    )
    pk = int(inserted.id)
    insert_payloads(connection, pk, payloads)
    return QueuedMessage(pk, message_id)


_MESSAGES = Message.__table__
# What create_outbound gives; the columns left out are NULL, as the ORM left them (a JSON column given
# None would hold JSON `null`). A column added with a Python-side default and not named here is
# refused when the statement is compiled (node.store.direct): a Core INSERT would not apply it.
_INSERT_OUTBOUND = DirectWrite(
    insert(_MESSAGES).returning(_MESSAGES.c.id),
    keys=[
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
        "submission_id",
        "is_test",
        "properties",
        "state",
        "attempts",
        "next_attempt_at",
        "created_at",
        "updated_at",
    ],
)
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
    """An outbound message (the caller says which) that may be sent now."""
    t = _MESSAGES
    return or_(
        and_(
            t.c.state == MessageState.PENDING, or_(t.c.next_attempt_at.is_(None), t.c.next_attempt_at <= now)
        ),
        # A claim whose holder died (kill -9) or hung: its lease ran out.
        and_(t.c.state == MessageState.SENDING, t.c.lease_until < now),
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
    The cost follows the number of partners and the window, not the length of the queue: the partners
    with work are found by one index seek each, and only the head of each one's queue is read. On the
    driver's cursor (node.store.direct).
    """
    if limit < 1:
        raise ValueError("claim at least one message")
    if window is not None and window < 1:
        raise ValueError("a window holds at least one message")
    connection = session.connection()
    partners = [partner_id] if partner_id is not None else _partners_with_work(connection, now)
    # A few more than `limit`: some at the head may not be due (waiting for a retry, or not before a time).
    wanted = limit + 4 if window is None else min(limit + 4, window)
    candidates = sorted(
        pk
        for partner in partners
        for pk in _claimable(_queue(connection, partner, wanted, now), limit, in_order, window)
    )[:limit]
    until = now + lease
    claimed = []
    for pk in candidates:
        # Still due, and (PostgreSQL) not being claimed by another node: else another claimer had it.
        found = _CLAIMABLE_ROW.rows_on(connection, {"pk": pk, "now": now})
        if not found:
            continue
        row = found[0]
        _CLAIM.execute_on(connection, {"pk": pk, "claimer_": claimer, "until_": until, "now_": now})
        payloads = tuple(
            ClaimedPayload(p.blob_digest, p.mime_type, p.content_id, p.properties or {}, p.data)
            for p in _CLAIMED_PAYLOADS.rows_on(connection, {"pk": pk})
        )
        claimed.append(
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
                payloads=payloads,
            )
        )
    return claimed


def _partners_with_work(connection: Connection, now: datetime) -> list[str]:
    """Partners with a pending message or an expired claim, found one index seek per partner (a loose
    index scan): the cost follows the number of partners, not the length of their queues."""
    partners: set[str] = set()
    after = ""
    while found := _NEXT_PARTNER_WITH_PENDING.rows_on(connection, {"after": after}):
        after = found[0].partner_id
        partners.add(after)
    partners.update(row.partner_id for row in _PARTNERS_WITH_EXPIRED_CLAIMS.rows_on(connection, {"now": now}))
    return sorted(partners)


def _queue(connection: Connection, partner_id: str, wanted: int, now: datetime) -> Iterator[Any]:
    """A partner's queue (its pending and sending messages) in order of submission, a page at a time.

    Pending pages start at `wanted` rows and grow; sending ones (the messages in flight) hold a window.
    """
    sizes = {MessageState.PENDING.value: wanted, MessageState.SENDING.value: 64}
    after = 0
    while True:
        params = {f"{state}_page": size for state, size in sizes.items()}
        rows = _QUEUE_PAGES.rows_on(
            connection, {**params, "partner_id": partner_id, "after": after, "now": now}
        )
        # The merged order is complete only up to the last id of a full page (an unfull one is the end).
        last: dict[str, list[int]] = {state: [] for state in sizes}
        for row in rows:
            last[row.state].append(row.id)
        bound = min((max(ids) for state, ids in last.items() if len(ids) == sizes[state]), default=None)
        for row in sorted(rows, key=lambda row: row.id):
            if bound is not None and row.id > bound:
                break
            yield row
        if bound is None:
            return
        after = bound
        sizes = {state: min(size * 4, 1024) for state, size in sizes.items()}


def _claimable(queue: Iterable[Any], limit: int, in_order: bool, window: int | None) -> list[int]:
    """The ids in one partner's queue that may be claimed now: due, within the window, not held behind
    an older message that waits for (or is in) a retry."""
    claimable: list[int] = []
    for position, row in enumerate(queue):
        if window is not None and position >= window:
            break
        if row.due:
            claimable.append(row.id)
            if len(claimable) >= limit:
                break
        if in_order and row.retrying:
            break  # the younger ones wait behind it
    return claimable


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


_NOW_COMPARED = bindparam("now", type_=_MESSAGES.c.next_attempt_at.type)
_NEXT_PARTNER_WITH_PENDING = DirectRead(
    select(_MESSAGES.c.partner_id)
    .where(
        _MESSAGES.c.direction == Direction.OUTBOUND,
        _MESSAGES.c.state == MessageState.PENDING,
        _MESSAGES.c.partner_id > bindparam("after", type_=_MESSAGES.c.partner_id.type),
    )
    .order_by(_MESSAGES.c.partner_id)
    .limit(1)
)
_PARTNERS_WITH_EXPIRED_CLAIMS = DirectRead(
    select(_MESSAGES.c.partner_id)
    .distinct()
    .where(_MESSAGES.c.state == MessageState.SENDING, _MESSAGES.c.lease_until < _NOW_COMPARED)
)


def _queue_page(state: MessageState) -> Any:
    """The next page of a partner's messages in `state`; whether each is due, and whether it waits for
    (or is in) a retry, told by the database (two timestamps per row converted in Python cost more)."""
    t = _MESSAGES
    return (
        select(
            t.c.id,
            t.c.state,
            _due(_NOW_COMPARED).label("due"),
            or_(
                and_(t.c.state == MessageState.PENDING, t.c.attempts > 0),
                and_(t.c.state == MessageState.SENDING, t.c.attempts > 1, t.c.lease_until >= _NOW_COMPARED),
            ).label("retrying"),
        )
        .where(
            t.c.partner_id == bindparam("partner_id", type_=t.c.partner_id.type),
            t.c.direction == Direction.OUTBOUND,
            t.c.state == state,
            t.c.id > bindparam("after", type_=t.c.id.type),
        )
        .order_by(t.c.id)
        .limit(bindparam(f"{state.value}_page", type_=Integer()))
        .subquery()
    )


# Both pages in one statement (each LIMIT inside its own subquery).
_QUEUE_PAGES = DirectRead(
    union_all(*(select(page) for page in map(_queue_page, (MessageState.PENDING, MessageState.SENDING))))
)
# `_due` again on the row itself: PostgreSQL rechecks it on a row another claimer changed meanwhile.
_CLAIMABLE_ROW = DirectRead(
    select(
        _MESSAGES.c.id,
        _MESSAGES.c.message_id,
        _MESSAGES.c.partner_id,
        _MESSAGES.c.attempts,
        _MESSAGES.c.service,
        _MESSAGES.c.service_type,
        _MESSAGES.c.action,
        _MESSAGES.c.conversation_id,
        _MESSAGES.c.ref_to_message_id,
        _MESSAGES.c.agreement_ref,
        _MESSAGES.c.properties,
        _MESSAGES.c.created_at,
        _MESSAGES.c.wire_digest,
        _MESSAGES.c.wire_content_type,
        _MESSAGES.c.wire_bytes,
        _MESSAGES.c.signed_references,
    )
    # By its key alone (no direction: the planner would take an index that starts with it).
    .where(_MESSAGES.c.id == bindparam("pk"), _due(_NOW_COMPARED))
    .with_for_update(skip_locked=True, of=_MESSAGES)
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
