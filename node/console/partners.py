"""Partner pages: the list with states; a partner's endpoint, certificates, focal points, P-Mode, history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from node.console import queries
from node.console.certinfo import certificates_of
from node.console.web import ConsoleRequest, NotFound, Response, Route
from node.store.messages import MessageFilter, list_messages
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
    items = []
    for partner in sorted(ctx.partners, key=lambda p: p.id):
        row = rows.get(partner.id)
        state = row.state if row is not None else "unrecorded"
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
        row = session.get(PartnerRow, partner_id)
        history = queries.audit_records(session, subject=f"partner:{partner_id}", limit=100)
        recent = list_messages(session, MessageFilter(partner_id=partner_id), limit=10).items
        return row, history, recent

    row, history, recent = await ctx.db.read(read)
    probe = console.extras.get("probe")
    return console.render(
        req,
        "partner.html",
        partner=partner,
        row=row,
        history=history,
        recent=recent,
        certificates=certificates_of(ctx, ctx.clock(), partners=(partner,))[:],
        probe=probe.results.get(partner_id) if probe else None,
        actions=console.extras.get("actions_for", lambda *_: ())(console, partner, row),
    )


ROUTES = (
    Route("GET", r"/partners", partner_list),
    Route("GET", r"/partners/(?P<partner_id>[A-Za-z0-9._-]{1,64})", partner_detail),
)
