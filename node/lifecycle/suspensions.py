"""Suspension, restoration and termination of exchanges (seed 000 Art. 12–13), as Procedure operations.

Maintenance of all exchanges needs a notice at least 7 working days ahead with the restoration
time; force majeure is immediate; one partner is suspended at once for a violation or an
unsafe connection with a notice naming it and the steps to restore; restoring needs evidence;
termination names an Art. 13 reason, is notified, and keeps data and logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from node.lifecycle.errors import LifecycleError
from node.lifecycle.notices import issue_notice
from node.lifecycle.reasons import SuspensionCause, TerminationReason
from node.lifecycle.states import Event, IllegalTransition, State
from node.notify.render import NoticeKind
from node.store.lifecycle_models import Announcement, Suspension

if TYPE_CHECKING:
    from node.lifecycle.service import Procedure

__all__ = ["MAINTENANCE_NOTICE_WORKING_DAYS", "resume", "suspend", "terminate"]

MAINTENANCE_NOTICE_WORKING_DAYS = 7  # seed 000 Art. 12


def suspend(
    procedure: Procedure,
    session: Session,
    actor: str,
    partner_id: str | None,
    *,
    cause: SuspensionCause,
    reason: str,
    starts_at: datetime | None = None,
    restore_at: datetime | None = None,
    restore_steps: Sequence[str] = (),
) -> Suspension:
    """Suspend one partner (`partner_id`) or every exchange (None), with the notice the law asks."""
    now = procedure.clock()
    if not reason.strip():
        raise LifecycleError("a suspension names its reason (--reason)")
    if cause is SuspensionCause.MAINTENANCE:
        if starts_at is None or restore_at is None:
            raise LifecycleError("a maintenance suspension needs --start and --restore (Art. 12)")
        earliest = procedure.calendar.earliest_after(now, MAINTENANCE_NOTICE_WORKING_DAYS)
        if starts_at < earliest:
            given = procedure.calendar.working_days_between(
                procedure.calendar.local_date(now), procedure.calendar.local_date(starts_at)
            )
            raise LifecycleError(
                f"maintenance notice of {given} working day(s) is shorter than the "
                f"{MAINTENANCE_NOTICE_WORKING_DAYS} working days of seed 000 Art. 12; "
                f"earliest start {earliest.isoformat()}"
            )
    elif cause is SuspensionCause.FORCE_MAJEURE:
        starts_at = now
    else:
        if partner_id is None:
            raise LifecycleError(f"a suspension for {cause.value} concerns one partner, not all")
        if not restore_steps:
            raise LifecycleError("name the steps to restore the connection (--restore-step, Art. 12)")
        starts_at = now
    if restore_at is not None and starts_at is not None and restore_at <= starts_at:
        raise LifecycleError("--restore must be after the start")
    if partner_id is not None and starts_at <= now:
        try:
            procedure.apply(
                session,
                actor,
                partner_id,
                Event.SUSPEND,
                reason=f"{cause.value}: {reason}",
                evidence={"restore_steps": list(restore_steps)},
            )
        except IllegalTransition as exc:
            raise LifecycleError(str(exc)) from None
    kind = {
        SuspensionCause.MAINTENANCE: NoticeKind.MAINTENANCE,
        SuspensionCause.FORCE_MAJEURE: NoticeKind.FORCE_MAJEURE,
        SuspensionCause.VIOLATION: NoticeKind.VIOLATION,
        SuspensionCause.UNSAFE: NoticeKind.UNSAFE,
    }[cause]
    facts: dict[str, object] = {
        "Scope": f"partner {partner_id}" if partner_id else "all exchanges",
        "Reason"
        if cause in (SuspensionCause.MAINTENANCE, SuspensionCause.FORCE_MAJEURE)
        else "Violation": reason,
        "Suspended from": starts_at,
    }
    if restore_at is not None:
        facts["Expected restoration"] = restore_at
    notice = issue_notice(
        session,
        procedure.config,
        kind,
        now=now,
        partner_id=partner_id,
        facts=facts,
        listing=tuple(restore_steps),
        effective_at=starts_at,
    )
    suspension = Suspension(
        partner_id=partner_id,
        cause=cause.value,
        reason=reason,
        restore_steps="\n".join(restore_steps),
        starts_at=starts_at,
        restore_at=restore_at,
        notice_id=notice.id,
        created_by=actor,
        created_at=now,
    )
    session.add(suspension)
    procedure._audit(
        session,
        actor,
        "exchange.suspend",
        f"partner:{partner_id}" if partner_id else "node",
        {
            "cause": cause.value,
            "reason": reason,
            "starts_at": starts_at.isoformat(),
            "restore_at": restore_at.isoformat() if restore_at else None,
            "notice_id": notice.id,
        },
    )
    session.flush()
    return suspension


def resume(
    procedure: Procedure, session: Session, actor: str, partner_id: str | None, *, evidence: str
) -> None:
    """Restore one partner (a transition with evidence) or end a suspension of all exchanges."""
    if not evidence.strip():
        raise LifecycleError("resuming needs the evidence that the cause is removed (--evidence)")
    now = procedure.clock()
    if partner_id is not None and procedure.state(session, partner_id) is State.SUSPENDED:
        procedure.apply(
            session,
            actor,
            partner_id,
            Event.RESUME,
            reason="connection restored",
            evidence={"evidence": evidence},
        )
    query = select(Suspension).where(Suspension.ended_at.is_(None), Suspension.partner_id.is_(None))
    if partner_id is not None:
        query = select(Suspension).where(Suspension.ended_at.is_(None), Suspension.partner_id == partner_id)
    ended = list(session.scalars(query))
    if partner_id is None and not ended:
        raise LifecycleError("no suspension of all exchanges is in force")
    if partner_id is not None and not ended and procedure.state(session, partner_id) is not State.ACTIVE:
        raise LifecycleError(
            f"partner {partner_id} is {procedure.state(session, partner_id).value}, not suspended"
        )
    for suspension in ended:
        suspension.ended_at = now
    issue_notice(
        session,
        procedure.config,
        NoticeKind.RESTORATION,
        now=now,
        partner_id=partner_id,
        facts={"Restored at": now, "Evidence": evidence},
    )
    procedure._audit(
        session,
        actor,
        "exchange.resume",
        f"partner:{partner_id}" if partner_id else "node",
        {"evidence": evidence, "suspensions": [s.id for s in ended]},
    )


# -- Art. 13: termination ----------------------------------------------------------------


def terminate(
    procedure: Procedure,
    session: Session,
    actor: str,
    partner_id: str,
    *,
    reason: TerminationReason,
    note: str = "",
) -> None:
    """Terminate under one of the Art. 13 reasons; the result is notified; data and logs are kept."""
    now = procedure.clock()
    try:
        procedure.apply(
            session,
            actor,
            partner_id,
            Event.TERMINATE,
            reason=f"{reason.value}: {note}".strip(": "),
            evidence={"art13_reason": reason.value, "note": note},
        )
    except IllegalTransition as exc:
        raise LifecycleError(str(exc)) from None
    for announcement in session.scalars(
        select(Announcement).where(Announcement.partner_id == partner_id, Announcement.status == "scheduled")
    ):
        announcement.status = "withdrawn"
    issue_notice(
        session,
        procedure.config,
        NoticeKind.TERMINATION,
        now=now,
        partner_id=partner_id,
        facts={
            "Reason (Art. 13)": reason.value.replace("_", " "),
            "Note": note or "-",
            "Terminated at": now,
            "Data and logs": "kept (at least 3 years, seed 002 Art. 9.5)",
        },
    )
