"""Certificate registrations (seed 001 Art. 12): rollover overlap, revocation, expiry refused and alerted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from node.lifecycle.certificates import (
    RegistrationReason,
    certificate_refusal,
    crl_refusal,
    expiry_alerts,
    register_certificate,
)
from node.store.lifecycle_models import Notice

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate(name: str, not_before: datetime, days: int) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + timedelta(days=days))
        .sign(KEY, hashes.SHA256())
    )


def register(node, cert, reason=RegistrationReason.INITIAL, **kw):  # type: ignore[no-untyped-def]
    return node.do(
        register_certificate,
        node.procedure,
        "operator:alice",
        owner_kind="partner",
        owner_id="th",
        certificate=cert,
        reason=reason,
        **kw,
    )


def refused(node, cert, at=None):  # type: ignore[no-untyped-def]
    return node.do(certificate_refusal, "partner", "th", cert, at or node.clock.now)


def test_a_registration_records_subject_serial_and_validity(node) -> None:  # type: ignore[no-untyped-def]
    cert = certificate("TH signing", node.clock.now - timedelta(days=1), 365)
    row = register(node, cert)
    assert row.subject == "CN=TH signing" and row.serial == format(cert.serial_number, "x")
    assert row.not_after == cert.not_valid_after_utc and row.status == "active"
    assert refused(node, cert) is None


def test_renewal_keeps_the_old_certificate_during_the_overlap_only(node) -> None:  # type: ignore[no-untyped-def]
    old = certificate("TH 2026", node.clock.now - timedelta(days=300), 365)
    new = certificate("TH 2027", node.clock.now - timedelta(days=1), 365)
    register(node, old)
    register(node, new, RegistrationReason.RENEWAL, overlap=timedelta(days=10))
    assert refused(node, old) is None and refused(node, new) is None
    later = node.clock.now + timedelta(days=11)
    assert "rollover overlap has ended" in str(refused(node, old, later))
    assert refused(node, new, later) is None


def test_a_revoked_certificate_is_refused_at_once(node) -> None:  # type: ignore[no-untyped-def]
    cert = certificate("TH", node.clock.now - timedelta(days=1), 365)
    register(node, cert)
    register(node, cert, RegistrationReason.REVOCATION)
    assert "revoked" in str(refused(node, cert))


def test_expired_and_unregistered_certificates_are_refused(node) -> None:  # type: ignore[no-untyped-def]
    cert = certificate("TH", node.clock.now - timedelta(days=10), 5)
    register(node, cert)
    assert "expired" in str(refused(node, cert))
    stranger = certificate("mallory", node.clock.now - timedelta(days=1), 30)
    assert "not registered" in str(refused(node, stranger))


def test_registering_the_same_certificate_twice_is_refused(node) -> None:  # type: ignore[no-untyped-def]
    cert = certificate("TH", node.clock.now, 30)
    register(node, cert)
    with pytest.raises(ValueError, match="already registered"):
        register(node, cert)


def test_expiry_is_alerted_once_ahead_of_time_with_a_metric(node) -> None:  # type: ignore[no-untyped-def]
    soon = certificate("TH soon", node.clock.now - timedelta(days=300), 310)  # 10 days left
    register(node, soon)
    registry = CollectorRegistry()
    alerted = node.do(lambda s: expiry_alerts(s, node.procedure, metrics=registry))
    assert len(alerted) == 1
    assert node.do(lambda s: expiry_alerts(s, node.procedure, metrics=registry)) == []
    notice = node.do(lambda s: s.scalars(select(Notice)).one())
    assert notice.kind == "certificate_expiry" and "TH soon" in notice.body_text
    seconds = registry.get_sample_value(
        "aswnode_certificate_expiry_seconds",
        {"owner_kind": "partner", "owner_id": "th", "serial": alerted[0].serial},
    )
    assert seconds == pytest.approx(timedelta(days=10).total_seconds())


def _ca_and_leaf() -> tuple[Any, x509.Certificate, x509.Certificate]:
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TH CA")])
    now = datetime.now(UTC)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TH gw")]))
        .issuer_name(ca_name)
        .public_key(KEY.public_key())
        .serial_number(4242)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )
    return ca_key, ca, leaf


def _crl(
    path: Path, ca_key: Any, ca: x509.Certificate, revoked: tuple[int, ...], next_update: datetime
) -> str:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(min(now, next_update) - timedelta(hours=1))
        .next_update(next_update)
    )
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - timedelta(minutes=5))
            .build()
        )
    path.write_bytes(builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
    return str(path)


def test_a_certificate_listed_in_the_crl_is_refused(tmp_path: Path) -> None:
    ca_key, ca, leaf = _ca_and_leaf()
    now = datetime.now(UTC)
    clean = _crl(tmp_path / "clean.crl", ca_key, ca, (), now + timedelta(days=1))
    assert crl_refusal(leaf, crl_location=clean, issuer=ca, now=now) is None
    listed = _crl(tmp_path / "listed.crl", ca_key, ca, (4242,), now + timedelta(days=1))
    assert "revoked" in str(crl_refusal(leaf, crl_location=listed, issuer=ca, now=now))


def test_the_crl_check_fails_closed(tmp_path: Path) -> None:
    ca_key, ca, leaf = _ca_and_leaf()
    now = datetime.now(UTC)
    assert "unavailable" in str(
        crl_refusal(leaf, crl_location=str(tmp_path / "none.crl"), issuer=ca, now=now)
    )
    stale = _crl(tmp_path / "stale.crl", ca_key, ca, (), now - timedelta(hours=1))
    assert "out of date" in str(crl_refusal(leaf, crl_location=stale, issuer=ca, now=now))
    other_key, other_ca, _ = _ca_and_leaf()
    forged = _crl(tmp_path / "forged.crl", other_key, other_ca, (), now + timedelta(days=1))
    assert "not signed" in str(crl_refusal(leaf, crl_location=forged, issuer=ca, now=now))
    (tmp_path / "junk.crl").write_bytes(b"junk")
    assert "cannot be parsed" in str(
        crl_refusal(leaf, crl_location=str(tmp_path / "junk.crl"), issuer=ca, now=now)
    )
