"""`aswnode partners add|list|check`: the operator's partner registry (DIR/partners.yaml)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from node.cli import OperatorError
from node.config import PARTNERS_FILE, ConfigError, NodeConfig, load_partners

__all__ = ["register"]


def _config(directory: Path) -> NodeConfig:
    try:
        return NodeConfig.load(directory)
    except ConfigError as exc:
        raise OperatorError(str(exc)) from None


@click.group("partners")
def partners_group() -> None:
    """The foreign gateways this node exchanges with (DIR/partners.yaml)."""


@partners_group.command("add")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--id", "partner_id", required=True, help="Our name for the partner.")
@click.option("--party-id", required=True, help="The partner's ebMS PartyId.")
@click.option("--party-id-type", default=None, help="The PartyId type (default: ebCore unregistered).")
@click.option("--endpoint", required=True, help="The partner's AS4 URL (https; http only on loopback).")
@click.option(
    "--cert",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The partner's message-signing certificate (PEM).",
)
@click.option(
    "--tls-ca",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="CA of the partner's TLS certificates: checked when sending, required of its client certificate.",
)
def add_command(
    directory: Path,
    partner_id: str,
    party_id: str,
    party_id_type: str | None,
    endpoint: str,
    cert: Path,
    tls_ca: Path | None,
) -> None:
    """Register a partner. In a sandbox node it is active at once; in production it is `registered`."""
    from node.partners import load_certificates
    from node.registry import add_partner

    config = _config(directory)
    try:
        load_certificates(cert, file="--cert", key=str(cert))
        if tls_ca is not None:
            load_certificates(tls_ca, file="--tls-ca", key=str(tls_ca))
        registration = add_partner(
            config,
            actor="operator:cli",
            form="cli",
            id=partner_id,
            party_id=party_id,
            party_id_type=party_id_type,
            endpoint=endpoint,
            cert_pem=cert.read_bytes(),
            tls_ca_pem=tls_ca.read_bytes() if tls_ca is not None else None,
        )
    except ConfigError as exc:
        raise OperatorError(str(exc)) from None
    out = {"id": partner_id, "party_id": party_id, "endpoint": endpoint, "state": registration.state}
    click.echo(json.dumps(out))


@partners_group.command("list")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
def list_command(directory: Path, as_json: bool) -> None:
    """The registered partners with their lifecycle state."""
    from node.registry import partner_states, unrecorded_state

    config = _config(directory)
    try:
        partners = load_partners(config.directory)
    except ConfigError as exc:
        raise OperatorError(str(exc)) from None
    states = partner_states(config)
    unrecorded = unrecorded_state(config.is_sandbox)  # a partner with no row yet
    rows = [
        {
            "id": p.id,
            "party_id": p.party_id,
            "party_id_type": p.party_id_type,
            "endpoint": p.endpoint,
            "signing_cert": str(p.signing_cert),
            "tls_ca": str(p.tls_ca) if p.tls_ca else None,
            "state": states.get(p.id, unrecorded),
        }
        for p in partners
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no partners (add one with `aswnode partners add`)")
        return
    width = max(len(r["id"]) for r in rows)
    for r in rows:
        mtls = " mTLS" if r["tls_ca"] else ""
        click.echo(f"{r['id']:<{width}}  {r['state']:<10}  {r['party_id']}  {r['endpoint']}{mtls}")


@partners_group.command("check")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
def check_command(directory: Path) -> None:
    """Validate partners.yaml: one line per problem naming file, partner and key; exit 1 if any."""
    from node.partners import PartnerDirectory

    config = _config(directory)
    problems = PartnerDirectory.check(config.directory)
    for problem in problems:
        click.echo(str(problem))
    if problems:
        raise SystemExit(1)
    click.echo(f"{PARTNERS_FILE}: ok")


def register(cli: click.Group) -> None:
    cli.add_command(partners_group)
