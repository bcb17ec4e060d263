"""Certificates as the console shows them: owner, use, subject, serial, validity and days left."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509

__all__ = ["EXPIRY_WARNING_DAYS", "CertificateInfo", "certificates_of", "describe"]

EXPIRY_WARNING_DAYS = 30


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    owner: str
    use: str
    subject: str
    serial: str
    not_before: datetime
    not_after: datetime
    days_left: int

    @property
    def status(self) -> str:
        if self.days_left < 0:
            return "expired"
        return "expiring" if self.days_left <= EXPIRY_WARNING_DAYS else "ok"


def describe(owner: str, use: str, cert: x509.Certificate, now: datetime) -> CertificateInfo:
    return CertificateInfo(
        owner=owner,
        use=use,
        subject=cert.subject.rfc4514_string(),
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        days_left=(cert.not_valid_after_utc - now).days,
    )


def _pem_file(path: Path | None) -> tuple[x509.Certificate, ...]:
    if path is None:
        return ()
    try:
        return tuple(x509.load_pem_x509_certificates(path.read_bytes()))
    except (OSError, ValueError):
        return ()


def certificates_of(
    ctx: Any, now: datetime, partners: Iterable[Any] | None = None
) -> tuple[CertificateInfo, ...]:
    """Soonest expiry first: the node's own and every partner's, or only those of `partners` when given."""
    out: list[CertificateInfo] = []
    if partners is None:
        keys = ctx.config.keys
        for cert in _pem_file(keys.signing_cert):
            out.append(describe("this node", "signing", cert, now))
        for cert in _pem_file(keys.tls_cert):
            out.append(describe("this node", "TLS", cert, now))
        partners = ctx.partners
    for partner in partners:
        for cert in partner.signing_certificates:
            out.append(describe(partner.id, "signing", cert, now))
        for cert in partner.tls_ca_certificates:
            out.append(describe(partner.id, "TLS CA", cert, now))
    return tuple(sorted(out, key=lambda c: c.not_after))
