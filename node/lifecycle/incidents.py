"""Incidents at the NSW (seed 000 Art. 14): hold, notify, list what is held; after repair reconcile, resend.

The operations take the Procedure; the readers (`open_incidents`, `incident_to_dict`) serve the
console and the status page.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from node.lifecycle.errors import LifecycleError
from node.lifecycle.notices import issue_notice
from node.notify.render import NoticeKind
from node.store.lifecycle_models import Incident
from node.store.models import Direction, Message, MessageState

if TYPE_CHECKING:
    from node.lifecycle.service import Procedure

__all__ = [
    "RECONCILE_WORKING_DAYS",
    "close_incident",
    "incident_report",
    "incident_to_dict",
    "open_incident",
    "open_incidents",
]

RECONCILE_WORKING_DAYS = 1  # seed 000 Art. 14


def open_incidents(session: Session) -> list[Incident]:
    """Incidents not yet closed, newest first."""
    query = select(Incident).where(Incident.closed_at.is_(None)).order_by(Incident.id.desc())
    return list(session.scalars(query))


def incident_to_dict(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "title": incident.title,
        "description": incident.description,
        "partners": list(incident.partners) or "all",
        "opened_at": incident.opened_at.isoformat(),
        "opened_by": incident.opened_by,
        "closed_at": incident.closed_at.isoformat() if incident.closed_at else None,
        "repair_note": incident.repair_note,
        "report": dict(incident.report or {}),
    }


# Held messages are read in batches of this many rows, and looked up or requeued this many ids at a
# time (a statement's parameter list stays small however many are held).
HELD_BATCH = 1_000
# The notice lists at most this many held messages per addressee.
NOTICE_LISTING = 200


def _held(session: Session, partners: Sequence[str]) -> Iterator[Row[Any]]:
    """The held outbound messages in sequence order, as rows of the few columns the incident needs:
    streamed, never loaded as messages (with their payloads) all at once."""
    query = select(
        Message.id, Message.message_id, Message.partner_id, Message.action, Message.state, Message.updated_at
    ).where(
        Message.direction == Direction.OUTBOUND.value,
        Message.state.in_((MessageState.PENDING.value, MessageState.FAILED.value)),
    )
    if partners:
        query = query.where(Message.partner_id.in_(list(partners)))
    yield from session.execute(query.order_by(Message.id).execution_options(yield_per=HELD_BATCH))


def _batches(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), HELD_BATCH):
        yield items[start : start + HELD_BATCH]


def open_incident(
    procedure: Procedure,
    session: Session,
    actor: str,
    *,
    title: str,
    partners: Sequence[str] = (),
    description: str = "",
) -> Incident:
    """Open an incident: outbound traffic to `partners` (all if empty) is held; parties notified."""
    if not title.strip():
        raise LifecycleError("an incident has a title (--title)")
    for partner_id in partners:
        procedure.partner_config(partner_id)
    now = procedure.clock()
    incident = Incident(
        title=title, description=description, partners=list(partners), opened_by=actor, opened_at=now
    )
    session.add(incident)
    session.flush()
    addressees: list[str | None] = list(partners) or [None]
    listings: dict[str | None, list[str]] = {addressee: [] for addressee in addressees}
    held = 0
    for row in _held(session, partners):
        held += 1
        for addressee in (None, row.partner_id):
            listing = listings.get(addressee)
            if listing is not None and len(listing) < NOTICE_LISTING:
                listing.append(f"{row.message_id} ({row.partner_id}, {row.action})")
    for partner_id in addressees:
        issue_notice(
            session,
            procedure.config,
            NoticeKind.INCIDENT_OPEN,
            now=now,
            partner_id=partner_id,
            facts={
                "Incident": f"#{incident.id} {title}",
                "Opened at": now,
                "Affected": ", ".join(partners) or "all partners",
                "Not being exchanged": f"{held} outbound message(s) held",
            },
            listing=tuple(listings[partner_id]),
        )
    procedure._audit(
        session,
        actor,
        "incident.open",
        f"incident:{incident.id}",
        {"title": title, "partners": list(partners), "held": held},
    )
    return incident


def close_incident(
    procedure: Procedure, session: Session, actor: str, incident_id: int, *, repair_note: str
) -> dict[str, Any]:
    """After repair: lift the hold, requeue what failed meanwhile, report against 1 working day."""
    incident = session.get(Incident, incident_id, with_for_update=True)
    if incident is None or incident.closed_at is not None:
        raise LifecycleError(f"no open incident #{incident_id}")
    if not repair_note.strip():
        raise LifecycleError("closing an incident says what was repaired (--repair)")
    now = procedure.clock()
    held: list[str] = []
    requeued: list[str] = []
    requeued_ids: list[int] = []
    for row in _held(session, incident.partners):
        held.append(row.message_id)
        # What failed during the incident is sent again; what was pending simply goes on.
        if row.state == MessageState.FAILED.value and row.updated_at >= incident.opened_at:
            requeued.append(row.message_id)
            requeued_ids.append(row.id)
    for batch in _batches(requeued_ids):
        session.execute(
            update(Message)
            .where(Message.id.in_(batch))
            .values(state=MessageState.PENDING.value, attempts=0, next_attempt_at=now, last_error=None)
            .execution_options(synchronize_session=False)
        )
    deadline = procedure.calendar.end_of_working_days(now, RECONCILE_WORKING_DAYS)
    incident.repaired_at = now
    incident.closed_at = now
    incident.closed_by = actor
    incident.repair_note = repair_note
    incident.report = {
        "held": held,
        "requeued": requeued,
        "reconcile_by": deadline.isoformat(),
        "target": "1 working day after repair (seed 000 Art. 14)",
    }
    for partner_id in incident.partners or [None]:
        issue_notice(
            session,
            procedure.config,
            NoticeKind.INCIDENT_CLOSE,
            now=now,
            partner_id=partner_id,
            facts={
                "Incident": f"#{incident.id} {incident.title}",
                "Repaired at": now,
                "Repair": repair_note,
                "Held messages to resend": len(held),
                "Reconciled by": deadline,
            },
        )
    procedure._audit(session, actor, "incident.close", f"incident:{incident.id}", incident.report)
    return dict(incident.report)


def incident_report(procedure: Procedure, session: Session, incident_id: int) -> dict[str, Any]:
    """Where the reconciliation stands: what was held, what is delivered, and whether in time."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise LifecycleError(f"no incident #{incident_id}")
    report: dict[str, Any] = {
        "id": incident.id,
        "title": incident.title,
        "partners": incident.partners or "all",
        "opened_at": incident.opened_at.isoformat(),
        "closed_at": incident.closed_at.isoformat() if incident.closed_at else None,
    }
    if incident.closed_at is None:
        report["held"] = [row.message_id for row in _held(session, incident.partners)]
        return report
    ids = list(incident.report.get("held", []))
    deadline = datetime.fromisoformat(incident.report["reconcile_by"])
    delivered = 0
    late: list[str] = []
    outstanding: list[str] = []
    for batch in _batches(ids):
        query = select(Message.message_id, Message.state, Message.delivered_at).where(
            Message.message_id.in_(batch)
        )
        for row in session.execute(query.order_by(Message.id)):
            if row.state != MessageState.DELIVERED.value:
                outstanding.append(row.message_id)
                continue
            delivered += 1
            if row.delivered_at and row.delivered_at > deadline:
                late.append(row.message_id)
    report.update(
        held=ids,
        delivered=delivered,
        outstanding=outstanding,
        late=late,
        reconcile_by=deadline.isoformat(),
        within_target=not late and (not outstanding or procedure.clock() <= deadline),
    )
    return report
