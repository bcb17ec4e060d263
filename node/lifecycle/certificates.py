"""Signing-certificate registrations (seed 001 Art. 12): subject, serial, validity; rollover; expiry alerts.

Renewal, key change and revocation are each a new registration. On renewal or key change
the previous certificate stays accepted until `overlap_until` (rollover: old and new
accepted, new used to send); on revocation it is refused at once. An expired, not yet
valid or revoked certificate is refused; when a partner's profile names a CRL (partners.yaml
`pmode: {inbound: {revocation: {crl: URL or file}}}`), `crl_refusal` checks it, failing closed
(no CRL, a CRL out of date or not signed by the issuer: refused). OCSP is not implemented.
Alerts go out `alert_days` before expiry (node.yaml `notices: {certificate_alert_days: 30}`),
as a notice and a metric.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from node.lifecycle.notices import issue_notice
from node.notify.render import NoticeKind
from node.store.direct import DirectRead
from node.store.lifecycle_models import CertificateRegistration

if TYPE_CHECKING:
    from node.lifecycle.service import Procedure

__all__ = [
    "CertificateRefused",
    "RegistrationReason",
    "certificate_refusal",
    "certificate_refusals",
    "crl_refusal",
    "expiry_alerts",
    "fingerprint",
    "register_certificate",
]

DEFAULT_OVERLAP = timedelta(days=30)
DEFAULT_ALERT_DAYS = 30


class RegistrationReason(StrEnum):
    INITIAL = "initial"
    RENEWAL = "renewal"
    KEY_CHANGE = "key_change"
    REVOCATION = "revocation"  # the named certificate is revoked; no new certificate


@dataclass(frozen=True, slots=True)
class CertificateRefused:
    fingerprint: str
    reason: str

    def __str__(self) -> str:
        return f"certificate {self.fingerprint[:16]}…: {self.reason} (seed 001 Art. 12)"


def fingerprint(certificate: x509.Certificate) -> str:
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def _registrations(session: Session, owner_kind: str, owner_id: str) -> list[CertificateRegistration]:
    query = select(CertificateRegistration).where(
        CertificateRegistration.owner_kind == owner_kind, CertificateRegistration.owner_id == owner_id
    )
    return list(session.scalars(query.order_by(CertificateRegistration.id)))


def register_certificate(
    session: Session,
    procedure: Procedure,
    actor: str,
    *,
    owner_kind: str,
    owner_id: str,
    certificate: x509.Certificate,
    reason: RegistrationReason,
    overlap: timedelta = DEFAULT_OVERLAP,
) -> CertificateRegistration:
    """Register `certificate` for the owner; on renewal/key change the previous ones roll over."""
    now = procedure.clock()
    fp = fingerprint(certificate)
    existing = _registrations(session, owner_kind, owner_id)
    same = next((r for r in existing if r.fingerprint == fp), None)
    if reason is RegistrationReason.REVOCATION:
        if same is None:
            raise ValueError(f"{owner_kind} {owner_id}: certificate {fp[:16]}… is not registered")
        same.status = "revoked"
        same.revoked_at = now
        same.reason = reason.value
        procedure.audit.append(
            session,
            actor,
            "certificate.revoke",
            f"{owner_kind}:{owner_id}",
            {"fingerprint": fp, "serial": same.serial},
            None,
            "ok",
            form=procedure.form,
        )
        return same
    if same is not None:
        raise ValueError(f"{owner_kind} {owner_id}: certificate {fp[:16]}… is already registered")
    for previous in existing:
        if previous.status == "active":
            previous.status = "superseded"
            previous.overlap_until = min(now + overlap, previous.not_after)
    row = CertificateRegistration(
        owner_kind=owner_kind,
        owner_id=owner_id,
        subject=certificate.subject.rfc4514_string(),
        issuer=certificate.issuer.rfc4514_string(),
        serial=format(certificate.serial_number, "x"),
        fingerprint=fp,
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        status="active",
        reason=reason.value,
        pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        registered_by=actor,
        registered_at=now,
    )
    session.add(row)
    procedure.audit.append(
        session,
        actor,
        "certificate.register",
        f"{owner_kind}:{owner_id}",
        {
            "fingerprint": fp,
            "serial": row.serial,
            "subject": row.subject,
            "not_after": row.not_after.isoformat(),
            "reason": reason.value,
        },
        None,
        "ok",
        form=procedure.form,
    )
    session.flush()
    return row


# What judging a certificate reads of an owner's registrations: Core, built once (every message asks).
# On the driver's cursor (node.store.direct): the receiver asks on every message.
_JUDGED = DirectRead(
    select(
        CertificateRegistration.fingerprint,
        CertificateRegistration.status,
        CertificateRegistration.revoked_at,
        CertificateRegistration.not_before,
        CertificateRegistration.not_after,
        CertificateRegistration.overlap_until,
    ).where(
        CertificateRegistration.owner_kind == bindparam("owner_kind"),
        CertificateRegistration.owner_id == bindparam("owner_id"),
    )
)


def certificate_refusal(
    session: Session, owner_kind: str, owner_id: str, certificate: x509.Certificate, now: datetime
) -> CertificateRefused | None:
    """None if the certificate may be accepted from the owner now, else why not.

    An owner with no registration at all is not judged here (partners.yaml decides).
    """
    return certificate_refusals(session, owner_kind, owner_id, (certificate,), now).get(
        fingerprint(certificate)
    )


def certificate_refusals(
    session: Session | Connection,
    owner_kind: str,
    owner_id: str,
    certificates: Iterable[x509.Certificate],
    now: datetime,
) -> dict[str, CertificateRefused]:
    """`certificate_refusal` of each certificate in one query: the refused ones by fingerprint."""
    registrations = {
        row.fingerprint: row
        for row in _JUDGED.rows(session, {"owner_kind": owner_kind, "owner_id": owner_id})
    }
    refused: dict[str, CertificateRefused] = {}
    if registrations:
        for certificate in certificates:
            fp = fingerprint(certificate)
            refusal = _judge(fp, registrations.get(fp), now)
            if refusal is not None:
                refused[fp] = refusal
    return refused


def _judge(fp: str, row: Any, now: datetime) -> CertificateRefused | None:
    if row is None:
        return CertificateRefused(fp, "not registered for this owner")
    if row.status == "revoked":
        return CertificateRefused(fp, f"revoked at {row.revoked_at.isoformat() if row.revoked_at else '?'}")
    if now < row.not_before:
        return CertificateRefused(fp, f"not valid before {row.not_before.isoformat()}")
    if now > row.not_after:
        return CertificateRefused(fp, f"expired at {row.not_after.isoformat()}")
    if row.status == "superseded" and (row.overlap_until is None or now > row.overlap_until):
        return CertificateRefused(fp, "superseded and its rollover overlap has ended")
    return None


def expiry_alerts(
    session: Session, procedure: Procedure, *, metrics: Any = None
) -> list[CertificateRegistration]:
    """Issue a notice (once) for each active certificate expiring within the alert window; set the metric."""
    now = procedure.clock()
    days = int(procedure.config.section("notices").get("certificate_alert_days", DEFAULT_ALERT_DAYS))
    horizon = now + timedelta(days=days)
    active = list(
        session.scalars(select(CertificateRegistration).where(CertificateRegistration.status == "active"))
    )
    if metrics is not None:
        _gauge(metrics).clear()
        for row in active:
            _gauge(metrics).labels(row.owner_kind, row.owner_id, row.serial).set(
                (row.not_after - now).total_seconds()
            )
    alerted = []
    for row in active:
        if row.not_after <= horizon and row.alerted_at is None:
            issue_notice(
                session,
                procedure.config,
                NoticeKind.CERTIFICATE_EXPIRY,
                now=now,
                partner_id=row.owner_id if row.owner_kind == "partner" else None,
                facts={
                    "Owner": f"{row.owner_kind} {row.owner_id}",
                    "Subject": row.subject,
                    "Serial": row.serial,
                    "Expires": row.not_after,
                    "Action": "register the renewed certificate before it expires",
                },
            )
            row.alerted_at = now
            alerted.append(row)
    return alerted


_GAUGES: dict[int, Any] = {}


def _gauge(registry: Any) -> Any:
    from prometheus_client import Gauge

    gauge = _GAUGES.get(id(registry))
    if gauge is None:
        gauge = Gauge(
            "aswnode_certificate_expiry_seconds",
            "Seconds until a registered signing certificate expires (seed 001 Art. 12)",
            ["owner_kind", "owner_id", "serial"],
            registry=registry,
        )
        _GAUGES[id(registry)] = gauge
    return gauge


def _crl_bytes(location: str, timeout: float) -> bytes:
    if location.startswith(("http://", "https://")):
        import urllib.request

        with urllib.request.urlopen(location, timeout=timeout) as response:
            return bytes(response.read(16 * 1024 * 1024))
    with open(location, "rb") as handle:
        return handle.read(16 * 1024 * 1024)


def crl_refusal(
    certificate: x509.Certificate,
    *,
    crl_location: str,
    issuer: x509.Certificate | None,
    now: datetime,
    timeout: float = 10.0,
) -> CertificateRefused | None:
    """None if the CRL at `crl_location` is current, signed by `issuer` and does not list the certificate.

    Blocking (it may fetch the CRL): call it from a thread. Fails closed on every doubt.
    """
    fp = fingerprint(certificate)
    if issuer is None:
        if certificate.issuer != certificate.subject:
            return CertificateRefused(fp, "CRL check: the issuer certificate is unknown")
        issuer = certificate
    try:
        data = _crl_bytes(crl_location, timeout)
    except OSError as exc:
        return CertificateRefused(
            fp, f"CRL {crl_location} unavailable ({exc}): refused, the check fails closed"
        )
    try:
        crl = x509.load_pem_x509_crl(data) if b"-----BEGIN" in data else x509.load_der_x509_crl(data)
    except ValueError:
        return CertificateRefused(fp, f"CRL {crl_location} cannot be parsed: refused")
    if crl.issuer != issuer.subject or not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
        return CertificateRefused(fp, f"CRL {crl_location} is not signed by the certificate's issuer")
    if crl.next_update_utc is not None and now > crl.next_update_utc:
        return CertificateRefused(
            fp, f"CRL {crl_location} is out of date (next update {crl.next_update_utc})"
        )
    revoked = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
    if revoked is not None:
        return CertificateRefused(
            fp, f"listed as revoked on {revoked.revocation_date_utc.isoformat()} in the CRL"
        )
    return None
