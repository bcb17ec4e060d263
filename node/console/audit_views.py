"""The audit log page: filter, export as JSON lines, and the result of verifying the hash chain."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from node.audit import AuditEntry
from node.console import queries
from node.console.messages import parse_day
from node.console.web import ConsoleRequest, Response, Route

if TYPE_CHECKING:
    from node.console.app import Console

__all__ = ["ROUTES"]

EXPORT_LIMIT = 100_000


def _filters(req: ConsoleRequest) -> dict[str, Any]:
    until = parse_day(req.get("until"))
    return {
        "actor": req.get("actor"),
        "action": req.get("action"),
        "subject": req.get("subject"),
        "since": parse_day(req.get("since")),
        "until": until + timedelta(days=1) if until else None,
    }


async def audit_page(console: Console, req: ConsoleRequest) -> Response:
    ctx = console.ctx

    def read(session: Any) -> tuple[Any, Any, Any]:
        return (
            queries.audit_records(session, **_filters(req)),
            ctx.audit.verify(session),
            ctx.audit.head(session),
        )

    records, broken, head = await ctx.db.read(read)
    return console.render(req, "audit.html", records=records, broken=broken, head=head, q=req.params)


async def audit_export(console: Console, req: ConsoleRequest) -> Response:
    ctx = console.ctx

    def read(session: Any) -> bytes:
        records = queries.audit_records(session, limit=EXPORT_LIMIT, **_filters(req))
        lines = [AuditEntry.of(r).to_json() for r in reversed(records)]
        return ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8")

    body = await ctx.db.read(read)
    await console.audit(
        req, "audit.export", "audit", {k: str(v) for k, v in _filters(req).items() if v}, "ok"
    )
    stamp = ctx.clock().strftime("%Y%m%dT%H%M%SZ")
    return Response(
        body,
        content_type="application/x-ndjson; charset=utf-8",
        headers=(("Content-Disposition", f'attachment; filename="aswnode-audit-{stamp}.jsonl"'),),
    )


ROUTES = (
    Route("GET", r"/audit", audit_page),
    Route("GET", r"/audit/export", audit_export),
)
