"""The partners' lifecycle rows in the database, as the CLI and the exchange read and write them."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from node.config import PARTNERS_FILE, ConfigError, NodeConfig, PartnerConfig, parse_partner, read_yaml

__all__ = [
    "PRODUCTION_STATE",
    "SANDBOX_STATE",
    "Registration",
    "add_partner",
    "open_database",
    "partner_state",
    "partner_states",
    "record_partner_registered",
    "unrecorded_state",
]

SANDBOX_STATE = "active"
PRODUCTION_STATE = "registered"


def unrecorded_state(sandbox: bool) -> str:
    """The lifecycle state of a partner with no row yet: active on a sandbox node, else registered."""
    return SANDBOX_STATE if sandbox else PRODUCTION_STATE


def open_database(config: NodeConfig) -> Any:
    from node.store.database import Database

    return Database.open(config.database_url)


@dataclass(frozen=True, slots=True)
class Registration:
    """A partner just added to partners.yaml and the lifecycle state it starts in."""

    partner: PartnerConfig
    state: str


# One writer of partners.yaml at a time in this process (the console adds from a thread pool).
_PARTNERS_WRITE = threading.Lock()


def add_partner(
    target: Any,
    *,
    actor: str,
    form: str,
    id: str,
    party_id: str,
    endpoint: str,
    cert_pem: bytes,
    tls_ca_pem: bytes | None = None,
    party_id_type: str | None = None,
    request_digest: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> Registration:
    """Register a partner: its certificates copied under DIR/partners, its partners.yaml entry, its
    lifecycle row and ONE audit record by `actor` in `form`. `target` is a NodeContext (its database
    and audit clock are used), a NodeConfig or the node directory. Every refusal is a ConfigError
    naming file and key; nothing is left behind by a refusal."""
    if isinstance(target, str | Path):
        target = NodeConfig.load(Path(target))
    config: NodeConfig = getattr(target, "config", target)
    from node.partners import parse_certificates

    parse_certificates(cert_pem, name="the signing certificate", file="--cert", key="cert")
    if tls_ca_pem is not None:
        parse_certificates(tls_ca_pem, name="the TLS CA", file="--tls-ca", key="tls_ca")
    store = config.directory / "partners"
    signing_copy = store / f"{id}-signing.pem"
    tls_copy = store / f"{id}-tls-ca.pem" if tls_ca_pem is not None else None
    kwargs = {"party_id_type": party_id_type} if party_id_type else {}
    try:
        partner = PartnerConfig(
            id=id, party_id=party_id, endpoint=endpoint, signing_cert=signing_copy, tls_ca=tls_copy, **kwargs
        )
    except ValueError as exc:
        raise ConfigError(PARTNERS_FILE, "id", str(exc)) from None
    with _PARTNERS_WRITE:
        _write_entry(config, partner, cert_pem, tls_ca_pem)
    state = record_partner_registered(
        target, partner, actor=actor, form=form, request_digest=request_digest, detail=detail
    )
    return Registration(partner, state)


def _write_entry(
    config: NodeConfig, partner: PartnerConfig, cert_pem: bytes, tls_ca_pem: bytes | None
) -> None:
    from node.nodedir import PARTNERS_HEADER, write_yaml

    path = config.partners_file
    data = dict(read_yaml(path)) if path.exists() else {}
    entries = list(data.get("partners") or [])
    for index, other in enumerate(entries):
        if not isinstance(other, dict):
            continue
        if other.get("id") == partner.id:
            raise ConfigError(PARTNERS_FILE, "id", f"a partner {partner.id!r} already exists")
        if (
            str(other.get("party_id")) == partner.party_id
            and (other.get("party_id_type") or partner.party_id_type) == partner.party_id_type
        ):
            raise ConfigError(
                PARTNERS_FILE,
                f"partners[{index}].party_id",
                f"{partner.party_id!r} is already registered",
                partner=str(other.get("id")),
            )
    copies = [(partner.signing_cert, cert_pem)]
    if partner.tls_ca is not None and tls_ca_pem is not None:
        copies.append((partner.tls_ca, tls_ca_pem))
    partner.signing_cert.parent.mkdir(exist_ok=True)
    try:
        for copy, pem in copies:
            copy.write_bytes(pem)
        entry = partner.to_dict(config.directory)
        parse_partner(entry, len(entries), config.directory)
        data["partners"] = [*entries, entry]
        write_yaml(path, data, header=PARTNERS_HEADER)
    except BaseException:
        for copy, _ in copies:
            Path(copy).unlink(missing_ok=True)
        raise


def record_partner_registered(
    target: Any,
    partner: PartnerConfig,
    *,
    actor: str,
    form: str,
    request_digest: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> str:
    """The partner's row: `active` at once in a sandbox node, `registered` in production. Audited once,
    by `actor` in `form`, in the same transaction. `target` is a NodeContext or a NodeConfig."""
    from node.audit import AuditLog
    from node.store.models import Partner

    config: NodeConfig = getattr(target, "config", target)
    own_db = not hasattr(target, "db")
    db = open_database(config) if own_db else target.db
    audit = AuditLog() if own_db else target.audit
    state = unrecorded_state(config.is_sandbox)
    try:
        with db.session() as session:
            row = session.get(Partner, partner.id)
            if row is None:
                row = Partner(id=partner.id, party_id=partner.party_id, party_id_type=partner.party_id_type)
                session.add(row)
            row.party_id = partner.party_id
            row.party_id_type = partner.party_id_type
            row.state = state
            row.state_reason = "sandbox: active on registration" if config.is_sandbox else "registered"
            audit.append(
                session,
                actor,
                "partner.register",
                f"partner:{partner.id}",
                {
                    **dict(detail or {}),
                    "party_id": partner.party_id,
                    "endpoint": partner.endpoint,
                    "state": state,
                },
                request_digest,
                "ok",
                form=form,
            )
    finally:
        if own_db:
            db.close()
    return state


def partner_states(config: NodeConfig) -> dict[str, str]:
    from node.store.models import Partner

    db = open_database(config)
    try:
        with db.read_session() as session:
            return {row.id: row.state for row in session.scalars(select(Partner))}
    finally:
        db.close()


@lru_cache(maxsize=1)
def _state_query() -> Any:
    """Built once, run on the driver's cursor: the sender asks on every claim, the gate on every message."""
    from node.store.direct import DirectRead
    from node.store.models import Partner

    table = Partner.__table__
    return DirectRead(select(table.c.state).where(table.c.id == bindparam("partner_id")))


def partner_state(session: Session | Connection, partner_id: str, *, sandbox: bool) -> str:
    """The lifecycle state of one partner; a partner with no row is active in a sandbox node."""
    found = _state_query().first(session, {"partner_id": partner_id})
    state = None if found is None else found.state
    if state is None:
        return unrecorded_state(sandbox)
    return str(state)
