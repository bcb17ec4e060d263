"""Incidents at the NSW (seed 000 Art. 14): hold, notify, list what is held; after repair reconcile, resend.

The operations take the Procedure; the readers (`open_incidents`, `incident_to_dict`) serve the
console and the status page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
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


def _held(session: Session, partners: Sequence[str]) -> list[Message]:
    query = select(Message).where(
        Message.direction == Direction.OUTBOUND.value,
        Message.state.in_((MessageState.PENDING.value, MessageState.FAILED.value)),
    )
    if partners:
        query = query.where(Message.partner_id.in_(list(partners)))
    return list(session.scalars(query.order_by(Message.id)))


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
    held = _held(session, partners)
    for partner_id in partners or [None]:  # type: ignore[list-item]
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
                "Not being exchanged": f"{len(held)} outbound message(s) held",
            },
            listing=tuple(
                f"{m.message_id} ({m.partner_id}, {m.action})"
                for m in held
                if partner_id in (None, m.partner_id)
            )[:200],
        )
    procedure._audit(
        session,
        actor,
        "incident.open",
        f"incident:{incident.id}",
        {"title": title, "partners": list(partners), "held": len(held)},
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
    held = _held(session, incident.partners)
    requeued = []
    for message in held:
        # What failed during the incident is sent again; what was pending simply goes on.
        if message.state == MessageState.FAILED.value and message.updated_at >= incident.opened_at:
            message.state = MessageState.PENDING.value
            message.attempts = 0
            message.next_attempt_at = now
            message.last_error = None
            requeued.append(message.message_id)
    deadline = procedure.calendar.end_of_working_days(now, RECONCILE_WORKING_DAYS)
    incident.repaired_at = now
    incident.closed_at = now
    incident.closed_by = actor
    incident.repair_note = repair_note
    incident.report = {
        "held": [m.message_id for m in held],
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
        report["held"] = [m.message_id for m in _held(session, incident.partners)]
        return report
    ids = list(incident.report.get("held", []))
    rows = list(session.scalars(select(Message).where(Message.message_id.in_(ids)))) if ids else []
    deadline = datetime.fromisoformat(incident.report["reconcile_by"])
    delivered = [m for m in rows if m.state == MessageState.DELIVERED.value]
    late = [m.message_id for m in delivered if m.delivered_at and m.delivered_at > deadline]
    outstanding = [m.message_id for m in rows if m.state != MessageState.DELIVERED.value]
    report.update(
        held=ids,
        delivered=len(delivered),
        outstanding=outstanding,
        late=late,
        reconcile_by=deadline.isoformat(),
        within_target=not late and (not outstanding or procedure.clock() <= deadline),
    )
    return report
