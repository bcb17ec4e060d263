"""`aswnode ministries`: register the ministries that use the API (token shown once), list and remove them.

A running node rereads node.yaml's `ministries:` when the file changes: what these commands write
applies from the node's next API request, without a restart (a new `client_ca` excepted: the TLS
server's trust is built at start).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import yaml

from node.cli import OperatorError
from node.cli._choices import LazyChoice

__all__ = ["register"]

SECTION = "ministries"
NODE_FILE = "node.yaml"


def _document_types() -> tuple[str, ...]:
    from node.api.ministries import DOCUMENT_TYPES

    return DOCUMENT_TYPES


def _node_yaml(directory: Path) -> Path:
    path = Path(directory) / NODE_FILE
    if not path.is_file():
        raise OperatorError(f"{path}: not found (is this a node directory made by `aswnode init`?)")
    return path


def _read(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        raise OperatorError(f"{path.name}: not valid YAML") from None
    except UnicodeDecodeError as exc:
        raise OperatorError(f"{path.name}: is not UTF-8 text (byte {exc.start})") from None
    if not isinstance(document, dict):
        raise OperatorError(f"{path.name}: must be a mapping at the top level")
    section = document.get(SECTION) or {}
    if not isinstance(section, Mapping):
        raise OperatorError(f"{path.name}: {SECTION}: must be a mapping of ministry id to its settings")
    from node.api.ministries import MinistryConfigError, parse_ministries

    try:
        parse_ministries(section)
    except MinistryConfigError as exc:
        raise OperatorError(f"{path.name}: {exc.key}: {exc.message}") from None
    return dict(section)


def _audit(directory: Path, action: str, ministry_id: str, detail: dict[str, Any]) -> None:
    """Record the operator action in the audit log; node.yaml is already written, so a database that
    cannot be reached is one warning line, not a failure."""
    from node.audit import AuditLog
    from node.config import NodeConfig
    from node.registry import open_database

    try:
        db = open_database(NodeConfig.load(directory))
    except Exception as exc:
        click.echo(f"aswnode: warning: {action} not audited: {type(exc).__name__}", err=True)
        return
    try:
        with db.session() as session:
            AuditLog().append(
                session,
                actor="operator:cli",
                action=action,
                subject=f"ministry:{ministry_id}",
                detail=detail,
                status="ok",
                form="cli",
            )
    except Exception as exc:
        click.echo(f"aswnode: warning: {action} not audited: {type(exc).__name__}", err=True)
    finally:
        db.close()


@click.group("ministries")
def ministries() -> None:
    """Ministries that submit and receive documents through the API (node.yaml `ministries:`)."""


@ministries.command("add")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--id", "ministry_id", required=True, help="short lower-case id, e.g. moit")
@click.option("--name", default="", help="the ministry's name")
@click.option(
    "--documents",
    "documents",
    multiple=True,
    required=True,
    type=LazyChoice(_document_types),
    help="a document type it submits and receives (repeat for several)",
)
@click.option("--webhook", "webhook_url", default=None, help="URL inbound documents are POSTed to")
@click.option("--client-cert-sha256", default=None, help="SHA-256 fingerprint of its TLS client certificate")
@click.option(
    "--client-ca",
    default=None,
    help="PEM file of the CA that issued its client certificate (the node TLS trusts it from its next start)",
)
def add(
    directory: Path,
    ministry_id: str,
    name: str,
    documents: tuple[str, ...],
    webhook_url: str | None,
    client_cert_sha256: str | None,
    client_ca: str | None,
) -> None:
    """Add a ministry; prints its API token (and webhook secret) once, as JSON. Only hashes are stored.

    A running node accepts the token from its next request."""
    from node.api.ministries import MinistryConfigError, hash_token, new_token, parse_ministries
    from node.nodedir import write_section

    path = _node_yaml(directory)
    section = _read(path)
    if ministry_id in section:
        raise OperatorError(f"{NODE_FILE}: {SECTION}.{ministry_id}: already exists (remove it first)")
    token = new_token()
    entry: dict[str, Any] = {
        "name": name or ministry_id,
        "documents": list(dict.fromkeys(documents)),
        "api_token_sha256": hash_token(token),
    }
    if client_cert_sha256:
        entry["client_cert_sha256"] = client_cert_sha256
    if client_ca:
        entry["client_ca"] = str(Path(client_ca).resolve())
    secret = None
    if webhook_url:
        secret = secrets.token_urlsafe(32)
        entry["webhook"] = {"url": webhook_url, "secret": secret}
    candidate = {**section, ministry_id: entry}
    try:
        parse_ministries(candidate, directory)
    except MinistryConfigError as exc:
        raise OperatorError(f"{NODE_FILE}: {exc.key}: {exc.message}") from None
    write_section(path, SECTION, candidate)
    _audit(directory, "ministry.add", ministry_id, {"documents": entry["documents"], "webhook": webhook_url})
    out: dict[str, Any] = {"id": ministry_id, "api_token": token}
    if secret is not None:
        out["webhook_secret"] = secret
    click.echo(json.dumps(out))


@ministries.command("list")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def list_(directory: Path, as_json: bool) -> None:
    """The configured ministries (never their secrets)."""
    from node.api.ministries import parse_ministries

    registry = parse_ministries(_read(_node_yaml(directory)))
    rows = [
        {
            "id": m.id,
            "name": m.name,
            "documents": list(m.documents),
            "token": m.token_hash is not None,
            "client_certificate": m.client_cert_sha256 is not None,
            "webhook": m.webhook_url,
        }
        for m in registry.ministries
    ]
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("no ministries (add one with `aswnode ministries add DIR --id ID --documents eco`)")
    for row in rows:
        click.echo(f"{row['id']}\t{','.join(row['documents'])}\t{row['webhook'] or 'pull'}\t{row['name']}")


@ministries.command("remove")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--id", "ministry_id", required=True)
def remove(directory: Path, ministry_id: str) -> None:
    """Remove a ministry: a running node refuses its token and certificate from its next request."""
    from node.nodedir import write_section

    path = _node_yaml(directory)
    section = _read(path)
    if ministry_id not in section:
        raise OperatorError(f"{NODE_FILE}: {SECTION}.{ministry_id}: no such ministry")
    del section[ministry_id]
    write_section(path, SECTION, section)
    _audit(directory, "ministry.remove", ministry_id, {})


@ministries.command("token")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--id", "ministry_id", required=True)
def token(directory: Path, ministry_id: str) -> None:
    """Give a ministry a new API token, printed once as JSON; the old one stops working at once."""
    from node.api.ministries import MinistryConfigError, hash_token, new_token, parse_ministries
    from node.nodedir import write_section

    path = _node_yaml(directory)
    section = _read(path)
    entry = section.get(ministry_id)
    if not isinstance(entry, Mapping):
        raise OperatorError(f"{NODE_FILE}: {SECTION}.{ministry_id}: no such ministry")
    new = new_token()
    candidate = {**section, ministry_id: {**entry, "api_token_sha256": hash_token(new)}}
    try:
        parse_ministries(candidate, directory)
    except MinistryConfigError as exc:
        raise OperatorError(f"{NODE_FILE}: {exc.key}: {exc.message}") from None
    write_section(path, SECTION, candidate)
    _audit(directory, "ministry.token", ministry_id, {})
    click.echo(json.dumps({"id": ministry_id, "api_token": new}))


def register(cli: click.Group) -> None:
    cli.add_command(ministries)
