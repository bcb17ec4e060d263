"""The dashboard: partners by state, queue, traffic and failures, certificates, incidents, endpoint probes."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from node.console import charts, queries
from node.console.certinfo import certificates_of
from node.console.lifecycle_port import open_incidents
from node.console.web import ConsoleRequest, Response, Route

if TYPE_CHECKING:
    from node.console.app import Console

__all__ = ["ROUTES"]

PERIODS = {"24h": 24, "7d": 7 * 24}
STATE_ORDER = ("registered", "testing", "tested", "scheduled", "active", "suspended", "terminated")


def hourly_charts(figures: queries.HourlyFigures) -> dict[str, object]:
    fmt = "%H:00" if len(figures.hours) <= 24 else "%d/%m %Hh"
    labels = [h.strftime(fmt) for h in figures.hours]
    throughput = charts.bar_chart(
        "Messages per hour (out + in; failures in red)",
        labels,
        [o + i - f for o, i, f in zip(figures.outbound, figures.inbound, figures.failed, strict=True)],
        failed=figures.failed,
    )
    latency = charts.line_chart(
        "Mean time from sending to the signed receipt",
        labels,
        [charts.Series("latency", figures.latency)],
        unit=" s",
    )
    return {"throughput_chart": throughput, "latency_chart": latency}


async def dashboard(console: Console, req: ConsoleRequest) -> Response:
    ctx = console.ctx
    now = ctx.clock()
    period = req.get("period", "24h")
    hours = PERIODS.get(period, 24)

    def read(session: object) -> tuple[object, ...]:
        return (
            queries.overview(session, now),  # type: ignore[arg-type]
            queries.hourly_figures(session, now, hours),  # type: ignore[arg-type]
            queries.failures_by_partner(session, now - timedelta(days=7)),  # type: ignore[arg-type]
            open_incidents(ctx, session),
        )

    overview, figures, failures, incidents = await ctx.db.read(read)
    states = overview["partner_states"]  # type: ignore[index]
    partner_states = [(s, states.get(s, 0)) for s in STATE_ORDER] + [
        (s, n) for s, n in states.items() if s not in STATE_ORDER
    ]
    probe = console.extras.get("probe")
    probes = []
    for partner in ctx.partners:
        result = probe.results.get(partner.id) if probe is not None else None
        probes.append((partner, result))
    certificates = [c for c in certificates_of(ctx, now) if c.status != "ok"] or list(
        certificates_of(ctx, now)
    )[:5]
    return console.render(
        req,
        "dashboard.html",
        overview=overview,
        partner_states=partner_states,
        failures_chart=charts.hbar_chart("Failed messages by partner, last 7 days", failures),  # type: ignore[arg-type]
        probes=probes,
        certificates=certificates,
        incidents=incidents,
        period=period if period in PERIODS else "24h",
        periods=tuple(PERIODS),
        **hourly_charts(figures),  # type: ignore[arg-type]
    )


ROUTES = (Route("GET", r"/", dashboard),)
