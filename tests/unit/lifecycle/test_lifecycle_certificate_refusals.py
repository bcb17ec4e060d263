"""certificate_refusals: every certificate of a partner judged against its registrations in one query."""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from node.lifecycle.certificates import (
    RegistrationReason,
    certificate_refusal,
    certificate_refusals,
    fingerprint,
    register_certificate,
)

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


def register(node, cert, reason=RegistrationReason.INITIAL):  # type: ignore[no-untyped-def]
    node.do(
        register_certificate,
        node.procedure,
        "operator:alice",
        owner_kind="partner",
        owner_id="th",
        certificate=cert,
        reason=reason,
    )


def test_each_certificate_is_judged_as_certificate_refusal_judges_it_alone(node) -> None:  # type: ignore[no-untyped-def]
    now = node.clock.now
    good = certificate("TH good", now - timedelta(days=1), 365)
    revoked = certificate("TH revoked", now - timedelta(days=1), 365)
    stranger = certificate("mallory", now - timedelta(days=1), 365)
    register(node, revoked)
    register(node, revoked, RegistrationReason.REVOCATION)
    register(node, good, RegistrationReason.KEY_CHANGE)
    refused = node.do(certificate_refusals, "partner", "th", (good, revoked, stranger), now)
    assert set(refused) == {fingerprint(revoked), fingerprint(stranger)}
    assert "revoked" in str(refused[fingerprint(revoked)])
    assert "not registered" in str(refused[fingerprint(stranger)])
    for cert in (good, revoked, stranger):
        alone = node.do(certificate_refusal, "partner", "th", cert, now)
        assert (None if alone is None else str(alone)) == (
            str(refused[fingerprint(cert)]) if fingerprint(cert) in refused else None
        )


def test_an_owner_without_registrations_is_not_judged(node) -> None:  # type: ignore[no-untyped-def]
    stranger = certificate("mallory", node.clock.now - timedelta(days=1), 30)
    assert node.do(certificate_refusals, "partner", "th", (stranger,), node.clock.now) == {}
    register(node, certificate("TH", node.clock.now - timedelta(days=1), 30))
    assert set(node.do(certificate_refusals, "partner", "th", (stranger,), node.clock.now)) == {
        fingerprint(stranger)
    }
