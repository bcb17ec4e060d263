"""Incidents (Art. 14): open one (outbound traffic held for the partners named), close it after repair."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from node.console.lifecycle_port import action_errors, procedure
from node.console.web import ConsoleRequest, Redirect, Response, Route, url
from node.store.lifecycle_models import Incident

if TYPE_CHECKING:
    from node.console.app import Console

__all__ = ["ROUTES"]


async def incident_list(console: Console, req: ConsoleRequest) -> Response:
    def read(session: Any) -> tuple[Any, ...]:
        return tuple(session.scalars(select(Incident).order_by(Incident.id.desc()).limit(100)))

    incidents = await console.ctx.db.read(read)
    partners = sorted(p.id for p in console.ctx.partners)
    return console.render(req, "incidents.html", incidents=incidents, partners=partners)


async def _act(console: Console, req: ConsoleRequest, subject: str, name: str, op: Any) -> Redirect:
    assert req.session is not None
    actor = f"operator:{req.session.operator}"
    ctx = console.ctx
    try:
        message = await ctx.db.run(lambda s: op(procedure(ctx), s, actor))
    except action_errors() as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        req.session.flash(text, "error")
        await console.audit(req, f"console.{name}", subject, {"refused": text}, "refused")
    else:
        req.session.flash(message)
    return Redirect(url("/incidents"))


async def incident_open(console: Console, req: ConsoleRequest) -> Redirect:
    partners = tuple(v.decode() for v in req.raw.args.get(b"partners", []) if v)

    def op(proc: Any, s: Any, actor: str) -> str:
        incident = proc.open_incident(
            s, actor, title=req.get("title"), partners=partners, description=req.get("description")
        )
        held = ", ".join(partners) or "all partners"
        return f"Incident #{incident.id} opened; outbound traffic to {held} is held."

    return await _act(console, req, "incident", "incident.open", op)


async def incident_close(console: Console, req: ConsoleRequest, incident_id: str) -> Redirect:
    def op(proc: Any, s: Any, actor: str) -> str:
        report = proc.close_incident(s, actor, int(incident_id), repair_note=req.get("repair_note"))
        return (
            f"Incident #{incident_id} closed: {len(report.get('held', ()))} held, "
            f"{len(report.get('requeued', ()))} requeued; reconcile by {report.get('reconcile_by')}."
        )

    return await _act(console, req, f"incident:{incident_id}", "incident.close", op)


ROUTES = (
    Route("GET", r"/incidents", incident_list),
    Route("POST", r"/incidents", incident_open),
    Route("POST", r"/incidents/(?P<incident_id>[0-9]{1,12})/close", incident_close),
)
