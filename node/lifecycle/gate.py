"""The exchange gate: may a message go to or come from this partner now? (Art. 10.4, 12, 14)

`exchange_refusal` combines the partner's lifecycle state (states.may_exchange) with a
suspension of all exchanges in force (maintenance or force majeure). `outbound_hold` says
whether the sender must hold a partner's outbound traffic (an open incident, Art. 14):
held messages stay queued and go out, in order, when the incident is closed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, or_, select
from sqlalchemy.orm import Session

from node.lifecycle.states import Refusal, State, may_exchange
from node.registry import partner_state, unrecorded_state
from node.store.direct import DirectRead
from node.store.lifecycle_models import Incident, Suspension
from node.store.models import Partner

__all__ = ["exchange_refusal", "outbound_hold", "suspension_in_force"]

_ART_12 = "seed 000 Art. 12 (Decree 47 Art. 43; Decree 85 Art. 17)"


def _in_force(now: Any) -> Any:
    """Suspensions of all exchanges that have started and are neither ended nor past their restoration."""
    return (
        Suspension.partner_id.is_(None),
        Suspension.ended_at.is_(None),
        Suspension.starts_at <= now,
        or_(Suspension.restore_at.is_(None), Suspension.restore_at > now),
    )


# Every exchange asks the gate: on the driver's cursor (node.store.direct), the partner's state and the
# suspension in force (if any) in one round trip; the suspension's wording is read only when it refuses.
_STATE_AND_SUSPENSION = DirectRead(
    select(
        select(Partner.state).where(Partner.id == bindparam("partner_id")).scalar_subquery(),
        select(Suspension.id)
        .where(*_in_force(bindparam("now")))
        .order_by(Suspension.starts_at)
        .limit(1)
        .scalar_subquery(),
    )
)
_SUSPENSION_WORDING = select(Suspension.cause, Suspension.reason, Suspension.restore_at).where(
    Suspension.id == bindparam("suspension_id")
)


def suspension_in_force(session: Session, now: datetime) -> Suspension | None:
    """A suspension of all exchanges that has started and is neither ended nor past its restoration."""
    query = select(Suspension).where(*_in_force(now))
    return session.scalars(query.order_by(Suspension.starts_at).limit(1)).first()


def exchange_refusal(
    session: Session | Connection,
    partner_id: str,
    *,
    test_message: bool,
    now: datetime,
    sandbox: bool,
    direction: str | None = None,
) -> Refusal | None:
    """None if the exchange may happen now, else why not (ebMS code inbound, 409 to a ministry).

    A suspension of all exchanges refuses business documents, never the test service.
    """
    if test_message:
        state, suspension_id = State(partner_state(session, partner_id, sandbox=sandbox)), None
    else:
        stored, suspension_id = _STATE_AND_SUSPENSION.rows(session, {"partner_id": partner_id, "now": now})[0]
        state = State(unrecorded_state(sandbox) if stored is None else stored)
    refusal = may_exchange(state, test_message=test_message, direction=direction)
    if refusal is not None or suspension_id is None:
        return refusal
    cause, reason, restore_at = session.execute(_SUSPENSION_WORDING, {"suspension_id": suspension_id}).one()
    until = f", expected restoration {restore_at.isoformat()}" if restore_at else ""
    return Refusal(
        state,
        f"all exchanges are suspended ({cause}: {reason}){until}",
        _ART_12,
        ebms_code="EBMS:0004",
        http_status=503,
    )


_INCIDENTS = Incident.__table__
_OPEN_INCIDENTS = DirectRead(
    select(_INCIDENTS.c.id, _INCIDENTS.c.title, _INCIDENTS.c.partners)
    .where(_INCIDENTS.c.closed_at.is_(None))
    .order_by(_INCIDENTS.c.id)
)


def outbound_hold(session: Session, partner_id: str) -> str | None:
    """Why the sender must hold this partner's outbound messages now (an open incident), or None.

    On the driver's cursor (the sender asks on every claim): no ORM objects."""
    for incident in _OPEN_INCIDENTS.rows(session, {}):
        if not incident.partners or partner_id in incident.partners:
            return f"incident #{incident.id} open: {incident.title} (seed 000 Art. 14)"
    return None
