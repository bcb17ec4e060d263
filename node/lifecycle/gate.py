"""The exchange gate: may a message go to or come from this partner now? (Art. 10.4, 12, 14)

`exchange_refusal` combines the partner's lifecycle state (states.may_exchange) with a
suspension of all exchanges in force (maintenance or force majeure). `outbound_hold` says
whether the sender must hold a partner's outbound traffic (an open incident, Art. 14):
held messages stay queued and go out, in order, when the incident is closed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from node.lifecycle.states import Refusal, State, may_exchange
from node.store.lifecycle_models import Incident, Suspension
from node.store.models import Partner

__all__ = ["exchange_refusal", "outbound_hold", "suspension_in_force"]

_ART_12 = "seed 000 Art. 12 (Decree 47 Art. 43; Decree 85 Art. 17)"


def suspension_in_force(session: Session, now: datetime) -> Suspension | None:
    """A suspension of all exchanges that has started and is neither ended nor past its restoration."""
    query = select(Suspension).where(
        Suspension.partner_id.is_(None),
        Suspension.ended_at.is_(None),
        Suspension.starts_at <= now,
        or_(Suspension.restore_at.is_(None), Suspension.restore_at > now),
    )
    return session.scalars(query.order_by(Suspension.starts_at).limit(1)).first()


def exchange_refusal(
    session: Session,
    partner_id: str,
    *,
    test_message: bool,
    now: datetime,
    sandbox: bool,
    direction: str | None = None,
) -> Refusal | None:
    """None if the exchange may happen now, else why not (ebMS code inbound, 409 to a ministry)."""
    row = session.get(Partner, partner_id)
    state = (State.ACTIVE if sandbox else State.REGISTERED) if row is None else State(row.state)
    refusal = may_exchange(state, test_message=test_message, direction=direction)
    if refusal is not None:
        return refusal
    suspension = suspension_in_force(session, now)
    if suspension is not None and not test_message:
        until = f", expected restoration {suspension.restore_at.isoformat()}" if suspension.restore_at else ""
        return Refusal(
            state,
            f"all exchanges are suspended ({suspension.cause}: {suspension.reason}){until}",
            _ART_12,
            ebms_code="EBMS:0004",
            http_status=503,
        )
    return None


def outbound_hold(session: Session, partner_id: str) -> str | None:
    """Why the sender must hold this partner's outbound messages now (an open incident), or None."""
    for incident in session.scalars(
        select(Incident).where(Incident.closed_at.is_(None)).order_by(Incident.id)
    ):
        if not incident.partners or partner_id in incident.partners:
            return f"incident #{incident.id} open: {incident.title} (seed 000 Art. 14)"
    return None
