"""node/registry.add_partner: the one registration the CLI and the console share."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from node.config import ConfigError, NodeConfig, load_partners
from node.nodedir import create_node_directory
from node.registry import add_partner, open_database
from node.store.models import AuditRecord, Partner


@pytest.fixture
def config(tmp_path: Path) -> NodeConfig:
    create_node_directory(tmp_path / "node", party_id="vn-asw", port=0, tls=False)
    return NodeConfig.load(tmp_path / "node")


@pytest.fixture
def cert_pem(tmp_path: Path) -> bytes:
    create_node_directory(tmp_path / "th", party_id="th-nsw", port=0, tls=False)
    return (tmp_path / "th" / "keys" / "signing.pem").read_bytes()


def _audit(config: NodeConfig) -> list[tuple[str, str, str, str]]:
    db = open_database(config)
    try:
        with db.read_session() as s:
            return [(r.actor, r.form, r.action, r.subject) for r in s.scalars(select(AuditRecord))]
    finally:
        db.close()


def test_a_partner_is_written_stored_and_audited_once_by_its_actor(config, cert_pem) -> None:  # type: ignore[no-untyped-def]
    registration = add_partner(
        config,
        actor="operator:alice",
        form="console",
        id="th",
        party_id="th-nsw",
        endpoint="https://127.0.0.1:9/as4",
        cert_pem=cert_pem,
        tls_ca_pem=cert_pem,
    )
    assert registration.state == "active"  # sandbox
    (partner,) = load_partners(config.directory)
    assert partner.id == "th" and partner.signing_cert.read_bytes() == cert_pem
    assert partner.tls_ca is not None and partner.tls_ca.read_bytes() == cert_pem
    assert ("operator:alice", "console", "partner.register", "partner:th") in _audit(config)
    assert not [a for a in _audit(config) if a[0] == "operator:cli"]
    db = open_database(config)
    try:
        with db.read_session() as s:
            assert s.get(Partner, "th").state == "active"
    finally:
        db.close()


def test_a_refused_partner_leaves_nothing_behind(config, cert_pem) -> None:  # type: ignore[no-untyped-def]
    args = {"actor": "operator:cli", "form": "cli", "endpoint": "https://127.0.0.1:9/as4"}
    add_partner(config.directory, id="th", party_id="th-nsw", cert_pem=cert_pem, **args)
    before = (
        (config.directory / "partners.yaml").read_text(),
        sorted((config.directory / "partners").iterdir()),
    )
    with pytest.raises(ConfigError, match="already registered"):
        add_partner(config, id="th2", party_id="th-nsw", cert_pem=cert_pem, **args)
    with pytest.raises(ConfigError, match="the signing certificate holds no X"):
        add_partner(config, id="th3", party_id="th3", cert_pem=b"-----BEGIN CERTIFICATE-----\nx\n", **args)
    with pytest.raises(ConfigError, match="partner id"):
        add_partner(config, id="../th4", party_id="th4", cert_pem=cert_pem, **args)
    after = (
        (config.directory / "partners.yaml").read_text(),
        sorted((config.directory / "partners").iterdir()),
    )
    assert after == before
    assert [e["id"] for e in yaml.safe_load(before[0])["partners"]] == ["th"]
    assert len([a for a in _audit(config) if a[2] == "partner.register"]) == 1
