"""Adding a partner from the console: the same registration as `aswnode partners add`, then a reload."""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.internet.threads import deferToThreadPool

from node.config import ConfigError
from node.console.web import ConsoleRequest, Redirect, Response, Route, url

if TYPE_CHECKING:
    from node.console.app import Console

__all__ = ["ROUTES"]

FIELDS = ("id", "party_id", "party_id_type", "endpoint", "cert_pem", "tls_ca_pem")
_MAX_PEM = 64 * 1024


async def partner_new_form(console: Console, req: ConsoleRequest) -> Response:
    return console.render(req, "partner_new.html", f={}, error="")


def _register(console: Console, req: ConsoleRequest, values: dict[str, str]) -> None:
    """The registration `aswnode partners add` does (node.registry), audited once as this operator."""
    from node.registry import add_partner

    ctx = console.ctx
    detail = {"party_id": values["party_id"], "endpoint": values["endpoint"]}
    add_partner(
        ctx,
        actor=console.actor(req),
        form="console",
        id=values["id"],
        party_id=values["party_id"],
        party_id_type=values.get("party_id_type") or None,
        endpoint=values["endpoint"],
        cert_pem=values["cert_pem"].strip().encode("ascii", "replace") + b"\n",
        tls_ca_pem=(
            values["tls_ca_pem"].strip().encode("ascii", "replace") + b"\n"
            if values.get("tls_ca_pem")
            else None
        ),
        request_digest=console.request_digest(req, detail),
        detail={"client": req.client},
    )
    ctx.partners.reload()


async def partner_new(console: Console, req: ConsoleRequest) -> Response | Redirect:
    assert req.session is not None
    ctx = console.ctx
    values = {k: req.get(k) for k in FIELDS}
    error = ""
    if not all(values[k] for k in ("id", "party_id", "endpoint", "cert_pem")):
        error = "id, party id, endpoint and the signing certificate are required"
    elif any(len(values[k]) > _MAX_PEM for k in ("cert_pem", "tls_ca_pem")):
        error = "a certificate field is larger than 64 KiB"
    if not error:
        reactor = ctx.reactor
        try:
            await deferToThreadPool(reactor, reactor.getThreadPool(), _register, console, req, values)
        except ConfigError as exc:
            error = str(exc)
    if error:
        detail = {"party_id": values["party_id"], "endpoint": values["endpoint"], "refused": error}
        await console.audit(req, "console.partner.add", f"partner:{values['id']}", detail, "refused")
        return console.render(req, "partner_new.html", status=422, f=values, error=error)
    probe, added = console.extras.get("probe"), ctx.partners.by_id(values["id"])
    if probe is not None and added is not None:
        probe.probe(added)  # its endpoint's status now, not at the next round
    req.session.flash(f"Partner {values['id']} registered.")
    return Redirect(url(f"/partners/{values['id']}"))


ROUTES = (
    Route("GET", r"/partners/new", partner_new_form),
    Route("POST", r"/partners/new", partner_new),
)
