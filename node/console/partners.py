"""Partner pages: the list with states; a partner's endpoint, certificates, focal points, P-Mode, history."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from node.conntest.minutes import PARTIES
from node.console.certinfo import certificates_of
from node.console.lifecycle_port import action_errors, procedure, procedure_view
from node.console.web import ConsoleRequest, NotFound, Response, Route
from node.lifecycle.service import SuspensionCause, TerminationReason
from node.registry import unrecorded_state
from node.store.message_queries import recent_messages
from node.store.models import Partner as PartnerRow

if TYPE_CHECKING:
    from node.console.app import Console

__all__ = ["ROUTES"]


def _rows(session: Any) -> dict[str, PartnerRow]:
    return {r.id: r for r in session.scalars(select(PartnerRow))}


async def partner_list(console: Console, req: ConsoleRequest) -> Response:
    ctx = console.ctx
    rows = await ctx.db.read(_rows)
    probe = console.extras.get("probe")
    wanted = req.get("state")
    unrecorded = unrecorded_state(getattr(ctx.config, "is_sandbox", False))
    items = []
    for partner in sorted(ctx.partners, key=lambda p: p.id):
        row = rows.get(partner.id)
        state = row.state if row is not None else unrecorded
        if wanted and state != wanted:
            continue
        items.append((partner, row, state, probe.results.get(partner.id) if probe else None))
    return console.render(req, "partners.html", items=items, state_filter=wanted)


async def partner_detail(console: Console, req: ConsoleRequest, partner_id: str) -> Response:
    ctx = console.ctx
    partner = ctx.partners.by_id(partner_id)
    if partner is None:
        raise NotFound(partner_id)

    def read(session: Any) -> tuple[Any, ...]:
        view = procedure_view(ctx, session, partner_id)
        row = session.get(PartnerRow, partner_id)
        recent = recent_messages(session, partner_id, limit=10)
        return row, view, recent

    row, view, recent = await ctx.db.read(read)
    probe = console.extras.get("probe")
    return console.render(
        req,
        "partner.html",
        partner=partner,
        row=row,
        proc=view,
        recent=recent,
        certificates=certificates_of(ctx, ctx.clock(), partners=(partner,)),
        pmode=effective_pmode(ctx, partner),
        probe=probe.results.get(partner_id) if probe else None,
        sandbox=getattr(ctx.config, "is_sandbox", False),
        parties=PARTIES,
        causes=tuple(c.value for c in SuspensionCause),
        termination_reasons=tuple(r.value for r in TerminationReason),
    )


def effective_pmode(ctx: Any, partner: Any) -> tuple[dict[str, Any] | None, str]:
    """The P-Mode the node pushes to this partner with (the test service's leg), or why it has none."""
    from node.pmodes import outbound_pmode
    from protocols.as4.namespaces import TEST_ACTION, TEST_SERVICE

    try:
        pmode = outbound_pmode(
            ctx.config, partner, service=TEST_SERVICE, service_type=None, action=TEST_ACTION
        )
    except ValueError as exc:
        return None, str(exc).splitlines()[0]
    return dataclasses.asdict(pmode), ""


async def partner_minutes(console: Console, req: ConsoleRequest, partner_id: str) -> Response:
    """The latest minutes as signed: every case with its result, the node's signature, the confirmations."""
    ctx = console.ctx
    if ctx.partners.by_id(partner_id) is None:
        raise NotFound(partner_id)
    try:
        document = await ctx.db.read(lambda s: procedure(ctx).minutes_document(s, partner_id))
    except action_errors() as exc:
        document, error = None, str(exc)
    else:
        error = ""
    return console.render(req, "minutes.html", partner_id=partner_id, doc=document, error=error)


async def partner_plan(console: Console, req: ConsoleRequest, partner_id: str) -> Response:
    ctx = console.ctx
    if ctx.partners.by_id(partner_id) is None:
        raise NotFound(partner_id)
    try:
        row, plan = await ctx.db.read(lambda s: procedure(ctx).current_plan(s, partner_id))
    except action_errors() as exc:
        row, plan, error = None, None, str(exc)
    else:
        error = ""
    return console.render(req, "plan.html", partner_id=partner_id, plan=plan, plan_row=row, error=error)


_PID = r"/partners/(?P<partner_id>[A-Za-z0-9._-]{1,64})"
ROUTES = (
    Route("GET", r"/partners", partner_list),
    Route("GET", _PID, partner_detail),
    Route("GET", _PID + "/minutes", partner_minutes),
    Route("GET", _PID + "/plan", partner_plan),
)
