"""Certificate registrations (seed 001 Art. 12): rollover overlap, revocation, expiry refused and alerted."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from node.lifecycle.certificates import (
    RegistrationReason,
    certificate_refusal,
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
