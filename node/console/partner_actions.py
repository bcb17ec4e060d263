"""The lifecycle actions on a partner page: each a Procedure operation, audited, refused with one line."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from node.console.lifecycle_port import action_errors, procedure
from node.console.web import ConsoleRequest, Redirect, Route, url

if TYPE_CHECKING:
    from node.console.app import Console

__all__ = ["ROUTES", "parse_moment"]

Operation = Callable[[Any, Any, str, str, ConsoleRequest], str]
_PID = r"/partners/(?P<partner_id>[A-Za-z0-9._-]{1,64})"


def parse_moment(req: ConsoleRequest, name: str) -> datetime | None:
    """A `datetime-local` field plus its `<name>_tz` offset (+07:00 by default) as an aware datetime."""
    text = req.get(name)
    if not text:
        return None
    tz = req.get(f"{name}_tz", "+07:00")
    try:
        moment = datetime.fromisoformat(text + ("" if text.endswith("Z") or "+" in text[10:] else tz))
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a date and time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name}: give a time zone")
    return moment


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


async def perform(
    console: Console, req: ConsoleRequest, partner_id: str, name: str, operation: Operation
) -> Redirect:
    """`operation(procedure, session, actor, partner_id, req)` in one transaction; flash the outcome."""
    assert req.session is not None
    ctx = console.ctx
    actor = f"operator:{req.session.operator}"
    errors = action_errors()
    try:
        message = await ctx.db.run(lambda s: operation(procedure(ctx), s, actor, partner_id, req))
    except errors as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        req.session.flash(text, "error")
        await console.audit(req, f"console.{name}", f"partner:{partner_id}", {"refused": text}, "refused")
    else:
        req.session.flash(message)
    return Redirect(url(f"/partners/{partner_id}"))


def _plan(proc: Any, s: Any, actor: str, pid: str, req: ConsoleRequest) -> str:
    plan = proc.draw_up_plan(s, actor, pid, foreign=req.get("scope", "foreign") == "foreign")
    return f"Test plan drawn up with {len(plan.cases)} cases ({plan.digest[:19]}…); the partner is testing."


def _add_case(proc: Any, s: Any, actor: str, pid: str, req: ConsoleRequest) -> str:
    from node.conntest.plan import Step, TestCase

    case = TestCase(
        id=req.get("case_id"),
        step=Step(req.get("step", "foreign")),
        purpose=req.get("purpose"),
        steps=_lines(req.get("steps")),
        expected=req.get("expected"),
    )
    proc.add_case(s, actor, pid, case)
    return f"Case {case.id} added to the plan."


def _record(proc: Any, s: Any, actor: str, pid: str, req: ConsoleRequest) -> str:
    from node.conntest.minutes import Outcome

    case_id = req.get("case_id")
    proc.record_manual(s, actor, pid, case_id, Outcome(req.get("outcome")), req.get("detail"))
    return f"Result of case {case_id} recorded."


def _minutes(proc: Any, s: Any, actor: str, pid: str, req: ConsoleRequest) -> str:
    row = proc.draw_up_minutes(s, actor, pid)
    return f"Minutes drawn up and signed by the node: {row.outcome} ({row.digest[:19]}…)."


def _confirm(proc: Any, s: Any, actor: str, pid: str, req: ConsoleRequest) -> str:
    role = req.get("role")
    proc.confirm(
        s,
        actor,
        pid,
        role=role,
        name=req.get("name"),
        organisation=req.get("organisation"),
        position=req.get("position"),
        email=req.get("email"),
        digest=req.get("digest") or None,
    )
    return f"Minutes confirmed for the {role} by {req.get('name')}."


def _golive(proc: Any, s: Any, actor: str, pid: str, req: ConsoleRequest) -> str:
    at = parse_moment(req, "at")
    if at is None:
        raise ValueError("give the official connection time")
    announcement = proc.golive(s, actor, pid, at)
    return (
        f"Go-live announced for {announcement.go_live_at.isoformat()}; the node activates the partner then."
    )


def _withdraw(proc: Any, s: Any, actor: str, pid: str, req: ConsoleRequest) -> str:
    proc.withdraw(s, actor, pid, req.get("reason") or "withdrawn by the operator")
    return "Go-live announcement withdrawn."


def _activate_sandbox(proc: Any, s: Any, actor: str, pid: str, req: ConsoleRequest) -> str:
    proc.activate_sandbox(s, actor, pid, req.get("reason") or "sandbox")
    return "Active (sandbox)."


def _suspend(proc: Any, s: Any, actor: str, pid: str, req: ConsoleRequest) -> str:
    from node.lifecycle.service import SuspensionCause

    suspension = proc.suspend(
        s,
        actor,
        pid,
        cause=SuspensionCause(req.get("cause")),
        reason=req.get("reason"),
        starts_at=parse_moment(req, "starts_at"),
        restore_at=parse_moment(req, "restore_at"),
        restore_steps=_lines(req.get("restore_steps")),
    )
    return f"Suspended ({suspension.cause}); the notice goes to the focal points."


def _resume(proc: Any, s: Any, actor: str, pid: str, req: ConsoleRequest) -> str:
    proc.resume(s, actor, pid, evidence=req.get("evidence"))
    return "Connection restored."


def _terminate(proc: Any, s: Any, actor: str, pid: str, req: ConsoleRequest) -> str:
    from node.lifecycle.service import TerminationReason

    reason = TerminationReason(req.get("reason"))
    proc.terminate(s, actor, pid, reason=reason, note=req.get("note"))
    return f"Terminated ({reason.value}); data and logs are kept."


def _action(name: str, operation: Operation) -> Route:
    async def view(console: Console, req: ConsoleRequest, partner_id: str) -> Redirect:
        return await perform(console, req, partner_id, name, operation)

    view.__name__ = f"partner_{name}"
    return Route("POST", _PID + "/" + name, view)


ROUTES = (
    _action("plan", _plan),
    _action("add-case", _add_case),
    _action("record", _record),
    _action("minutes", _minutes),
    _action("confirm", _confirm),
    _action("golive", _golive),
    _action("withdraw", _withdraw),
    _action("activate-sandbox", _activate_sandbox),
    _action("suspend", _suspend),
    _action("resume", _resume),
    _action("terminate", _terminate),
)
