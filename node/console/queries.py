"""What the console reads from the database: counts for the dashboard, hourly figures, message search."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from node.store.messages import queue_depth
from node.store.models import AuditRecord, Delivery, Message, MessageState, Partner

__all__ = [
    "HourlyFigures",
    "audit_records",
    "failures_by_partner",
    "failures_since",
    "hourly_figures",
    "message_by_pk",
    "overview",
    "subject_records",
]

_MAX_ROWS = 50_000  # the charts read at most this many messages of the window


@dataclass(frozen=True, slots=True)
class HourlyFigures:
    """Per hour (oldest first): messages out and in, failures, mean send→receipt latency in seconds."""

    hours: tuple[datetime, ...]
    outbound: tuple[int, ...]
    inbound: tuple[int, ...]
    failed: tuple[int, ...]
    latency: tuple[float | None, ...]


def overview(session: Session, now: datetime) -> dict[str, Any]:
    """Partners by state, queue depth, failures (24 h and all), messages in the last hour."""
    states = dict(session.execute(select(Partner.state, func.count()).group_by(Partner.state)).all())
    queue = queue_depth(session)
    failed_total = session.scalar(select(func.count()).where(Message.state == MessageState.FAILED))
    failed_day = failures_since(session, now - timedelta(hours=24))
    last_hour = session.scalar(select(func.count()).where(Message.created_at >= now - timedelta(hours=1)))
    deliveries_waiting = session.scalar(select(func.count()).where(Delivery.state.in_(("pending", "failed"))))
    return {
        "partner_states": states,
        "queue_depth": queue or 0,
        "failed_total": failed_total or 0,
        "failed_day": failed_day or 0,
        "last_hour": last_hour or 0,
        "deliveries_waiting": deliveries_waiting or 0,
    }


def hourly_figures(session: Session, now: datetime, hours: int = 24) -> HourlyFigures:
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    rows = session.execute(
        select(Message.created_at, Message.direction, Message.state, Message.sent_at, Message.delivered_at)
        .where(Message.created_at >= start)
        .order_by(Message.created_at.desc())
        .limit(_MAX_ROWS)
    ).all()
    out, inn, bad = [0] * hours, [0] * hours, [0] * hours
    lat: list[list[float]] = [[] for _ in range(hours)]
    for created, direction, state, sent, delivered in rows:
        i = int((created - start).total_seconds() // 3600)
        if not 0 <= i < hours:
            continue
        (out if direction == "outbound" else inn)[i] += 1
        if state == MessageState.FAILED:
            bad[i] += 1
        if direction == "outbound" and delivered is not None:
            lat[i].append(max(0.0, (delivered - (sent or created)).total_seconds()))
    return HourlyFigures(
        hours=tuple(start + timedelta(hours=h) for h in range(hours)),
        outbound=tuple(out),
        inbound=tuple(inn),
        failed=tuple(bad),
        latency=tuple((sum(v) / len(v)) if v else None for v in lat),
    )


def failures_since(session: Session, since: datetime) -> int:
    """Messages failed since `since` (or touched since, failed): read from (state, updated_at), not every
    failure ever."""
    query = select(func.count()).where(Message.state == MessageState.FAILED, Message.updated_at >= since)
    return session.scalar(query) or 0


def failures_by_partner(session: Session, since: datetime) -> tuple[tuple[str, int], ...]:
    """The 20 partners with the most messages failed since `since`, most first (the (state, updated_at)
    index: the window's failures, not every failure ever)."""
    rows = session.execute(
        select(Message.partner_id, func.count())
        .where(Message.state == MessageState.FAILED, Message.updated_at >= since)
        .group_by(Message.partner_id)
        .order_by(func.count().desc())
        .limit(20)
    ).all()
    return tuple((p, int(n)) for p, n in rows)


def message_by_pk(session: Session, pk: int) -> tuple[Message, tuple[Delivery, ...]] | None:
    message = session.get(Message, pk)
    if message is None:
        return None
    deliveries = tuple(session.scalars(select(Delivery).where(Delivery.message_pk == pk)))
    return message, deliveries


def audit_records(
    session: Session,
    *,
    actor: str = "",
    action: str = "",
    subject: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = 200,
) -> tuple[AuditRecord, ...]:
    q = select(AuditRecord).order_by(AuditRecord.seq.desc())
    if actor:
        q = q.where(AuditRecord.actor.contains(actor, autoescape=True))
    if action:
        q = q.where(AuditRecord.action.contains(action, autoescape=True))
    if subject:
        q = q.where(AuditRecord.subject.contains(subject, autoescape=True))
    if since is not None:
        q = q.where(AuditRecord.at >= since)
    if until is not None:
        q = q.where(AuditRecord.at < until)
    if limit is not None:
        q = q.limit(limit)
    return tuple(session.scalars(q))


def subject_records(session: Session, subject: str, *, limit: int = 50) -> tuple[AuditRecord, ...]:
    """The newest records about exactly `subject` (e.g. `message:<MessageId>`), read from the
    (subject, seq) index: `audit_records`' substring match scans the whole log."""
    q = select(AuditRecord).where(AuditRecord.subject == subject).order_by(AuditRecord.seq.desc())
    return tuple(session.scalars(q.limit(limit)))
