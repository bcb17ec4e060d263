"""Adding a partner from the console: the same registration as `aswnode partners add`, then a reload."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from twisted.internet.threads import deferToThreadPool

from node.console.web import ConsoleRequest, Redirect, Response, Route, url

if TYPE_CHECKING:
    from node.console.app import Console

__all__ = ["ROUTES"]

FIELDS = ("id", "party_id", "party_id_type", "endpoint", "cert_pem", "tls_ca_pem")
_MAX_PEM = 64 * 1024


async def partner_new_form(console: Console, req: ConsoleRequest) -> Response:
    return console.render(req, "partner_new.html", f={}, error="")


def _pem_file(directory: Path, text: str) -> Path:
    fd, name = tempfile.mkstemp(prefix="upload-", suffix=".pem", dir=directory)
    with os.fdopen(fd, "w", encoding="ascii", errors="replace") as f:
        f.write(text.strip() + "\n")
    return Path(name)


def _register(ctx: Any, values: dict[str, str]) -> None:
    """`aswnode partners add` itself (node/cli/partners.py), so the console applies the very same checks."""
    from node.cli.partners import add_command

    uploads = Path(ctx.config.var_dir) / "console-uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    cert = _pem_file(uploads, values["cert_pem"])
    tls_ca = _pem_file(uploads, values["tls_ca_pem"]) if values.get("tls_ca_pem") else None
    try:
        add_command.callback(  # type: ignore[misc]
            directory=Path(ctx.config.directory),
            partner_id=values["id"],
            party_id=values["party_id"],
            party_id_type=values.get("party_id_type") or None,
            endpoint=values["endpoint"],
            cert=cert,
            tls_ca=tls_ca,
        )
    finally:
        cert.unlink(missing_ok=True)
        if tls_ca is not None:
            tls_ca.unlink(missing_ok=True)
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
            await deferToThreadPool(reactor, reactor.getThreadPool(), _register, ctx, values)
        except click.ClickException as exc:
            error = exc.format_message()
    detail = {"party_id": values["party_id"], "endpoint": values["endpoint"]}
    if error:
        await console.audit(
            req, "console.partner.add", f"partner:{values['id']}", {**detail, "refused": error}, "refused"
        )
        return console.render(req, "partner_new.html", status=422, f=values, error=error)
    await console.audit(req, "console.partner.add", f"partner:{values['id']}", detail, "ok")
    probe, added = console.extras.get("probe"), ctx.partners.by_id(values["id"])
    if probe is not None and added is not None:
        probe.probe(added)  # its endpoint's status now, not at the next round
    req.session.flash(f"Partner {values['id']} registered.")
    return Redirect(url(f"/partners/{values['id']}"))


ROUTES = (
    Route("GET", r"/partners/new", partner_new_form),
    Route("POST", r"/partners/new", partner_new),
)
