"""The console's one door to the lifecycle helper's service layer (node.lifecycle.service.Procedure).

The console applies no lifecycle rule itself: every action is a Procedure operation run
in one transaction with `db.run`, audited there with the operator as actor and form "console".
What the partner page shows of the procedure is read through the same Procedure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node.config import ConfigError

__all__ = ["ProcedureView", "action_errors", "open_incidents", "procedure", "procedure_view"]


def procedure(ctx: Any) -> Any:
    from node.lifecycle.service import Procedure

    return Procedure(config=ctx.config, clock=ctx.clock, audit=ctx.audit, form="console")


def action_errors() -> tuple[type[Exception], ...]:
    """What a refused action raises: shown to the operator as one line, never as a crash."""
    from node.conntest.minutes import MinutesInvalid
    from node.lifecycle.service import LifecycleError
    from node.lifecycle.states import IllegalTransition

    return (LifecycleError, IllegalTransition, MinutesInvalid, ConfigError, ValueError)


@dataclass(frozen=True, slots=True)
class ProcedureView:
    """Where one partner stands in the procedure: plan, results, runs, minutes, announcements, history."""

    state: str
    history: tuple[Any, ...]
    plan: Any | None
    results: dict[str, Any]
    runs: tuple[Any, ...]
    minutes: Any | None
    confirmations: tuple[Any, ...]
    announcements: tuple[Any, ...]
    suspensions: tuple[Any, ...]


def procedure_view(ctx: Any, session: Any, partner_id: str) -> ProcedureView:
    from sqlalchemy import select

    from node.lifecycle.service import LifecycleError
    from node.registry import partner_state
    from node.store.lifecycle_models import Announcement, ConntestRun, Suspension

    proc = procedure(ctx)
    # Read as the exchange gate reads it (no row: active in a sandbox node); Procedure.state would
    # create a missing row as `registered`, so merely opening the page would change what is exchanged.
    state = partner_state(session, partner_id, sandbox=getattr(ctx.config, "is_sandbox", False))
    history = tuple(reversed(proc.history(session, partner_id)))
    plan, results, runs = None, {}, ()
    try:
        plan_row, plan = proc.current_plan(session, partner_id)
        results = {r.case_id: r for r in proc.results(session, partner_id)}
        runs = tuple(
            session.scalars(
                select(ConntestRun).where(ConntestRun.plan_id == plan_row.id).order_by(ConntestRun.id.desc())
            )
        )
    except LifecycleError:
        pass
    minutes, confirmations = None, ()
    try:
        minutes = proc.latest_minutes(session, partner_id)
        confirmations = tuple(proc.confirmations(session, minutes.id))
    except LifecycleError:
        pass
    announcements = tuple(
        session.scalars(
            select(Announcement).where(Announcement.partner_id == partner_id).order_by(Announcement.id.desc())
        )
    )
    suspensions = tuple(
        session.scalars(
            select(Suspension)
            .where((Suspension.partner_id == partner_id) | Suspension.partner_id.is_(None))
            .order_by(Suspension.id.desc())
            .limit(10)
        )
    )
    return ProcedureView(
        state, history, plan, results, runs, minutes, confirmations, announcements, suspensions
    )


def open_incidents(ctx: Any, session: Any) -> tuple[Any, ...]:
    """Incidents not yet closed (Art. 14), oldest first."""
    return tuple(procedure(ctx).open_incidents(session))
