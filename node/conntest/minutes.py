"""Art. 10.3 step 3: the minutes of a connection test, drawn up from the results and signed by the node.

The minutes are canonical JSON (every case with its result, timestamps and
evidence digests), signed with the node's signing key: RSA-PSS/SHA-256 (`PS256`)
for an RSA key, ECDSA/SHA-256 (`ES256`) for an EC key, Ed25519 (`EdDSA`). The
signature block carries the signer's certificate; `verify_minutes` proves the bytes
are the ones signed, so any change after signing is detected.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from html import escape
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from node.conntest.canonical import canonical_json
from node.conntest.plan import ConnectionTestPlan

__all__ = [
    "PARTIES",
    "CaseResult",
    "MinutesInvalid",
    "NodeSigner",
    "Outcome",
    "SignedMinutes",
    "draw_up_minutes",
    "verify_minutes",
]

# Art. 10.3 step 3: "confirmed by all parties to the test".
PARTIES = ("operator", "ministry", "provider")
MINUTES_TYPE = "aswnode.conntest.minutes/1"


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_RUN = "not_run"


@dataclass(frozen=True, slots=True)
class CaseResult:
    """What one case gave: outcome, when, why, and the digests that prove it."""

    case_id: str
    outcome: Outcome
    started_at: str
    finished_at: str
    detail: str = ""
    evidence: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.outcome is Outcome.FAILED and not self.detail:
            raise ValueError(f"case {self.case_id}: a failed case says what failed and why")

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "outcome": self.outcome.value,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "detail": self.detail,
            "evidence": dict(self.evidence),
        }


class MinutesInvalid(Exception):
    """The minutes' signature does not verify, or the bytes are not the signed canonical form."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True, slots=True)
class NodeSigner:
    """The node's signing key and certificate (node.yaml keys.signing_key / signing_cert)."""

    key: Any
    certificate: x509.Certificate

    @classmethod
    def from_files(cls, key_path: Path, cert_path: Path) -> NodeSigner:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        return cls(key, certificate)

    @property
    def algorithm(self) -> str:
        if isinstance(self.key, rsa.RSAPrivateKey):
            return "PS256"
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return "ES256"
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            return "EdDSA"
        raise ValueError(f"unsupported signing key type {type(self.key).__name__}")

    def sign(self, data: bytes) -> dict[str, Any]:
        alg = self.algorithm
        if alg == "PS256":
            value = self.key.sign(
                data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256()
            )
        elif alg == "ES256":
            value = self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        else:
            value = self.key.sign(data)
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return {
            "alg": alg,
            "x5c": [_b64(der)],
            "x5t#S256": hashlib.sha256(der).hexdigest(),
            "value": _b64(value),
        }


def _verify_signature(alg: str, public_key: Any, value: bytes, data: bytes) -> None:
    if alg == "PS256" and isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(
            value, data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256()
        )
    elif alg == "ES256" and isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(value, data, ec.ECDSA(hashes.SHA256()))
    elif alg == "EdDSA" and isinstance(public_key, ed25519.Ed25519PublicKey):
        public_key.verify(value, data)
    else:
        raise MinutesInvalid(f"signature algorithm {alg!r} does not match the signer's key")


@dataclass(frozen=True, slots=True)
class SignedMinutes:
    """The signed bytes and the detached signature block."""

    body: bytes
    signature: Mapping[str, Any]

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.body).hexdigest()

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def passed(self) -> bool:
        return self.document.get("outcome") == Outcome.PASSED.value

    def to_json(self) -> dict[str, Any]:
        return {"minutes": self.document, "digest": self.digest, "signature": dict(self.signature)}

    def render_html(self, confirmations: Iterable[Mapping[str, Any]] = ()) -> str:
        """A readable, print-ready page of the minutes with their digest and the parties' confirmations."""
        doc = self.document
        rows = "".join(
            f"<tr><td>{escape(c['id'])}</td><td>{escape(c['purpose'])}</td><td>{escape(c['outcome'])}</td>"
            f"<td>{escape(c.get('detail') or '')}</td><td>{escape(str(c.get('finished_at') or ''))}</td>"
            f"<td><small>{escape(', '.join(f'{k}={v}' for k, v in (c.get('evidence') or {}).items()))}"
            "</small></td></tr>"
            for c in doc["cases"]
        )
        signed = "".join(
            f"<li>{escape(c['role'])}: {escape(c['name'])} {escape(c.get('organisation') or '')} "
            f"({escape(c['at'])})</li>"
            for c in confirmations
        )
        title = f"Connection test minutes — {escape(doc['partner_id'])}"
        return (
            f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #888;padding:4px 8px;vertical-align:top}</style></head><body>"
            f"<h1>{title}</h1><p>{escape(doc['article'])}. "
            f"Outcome: <strong>{escape(doc['outcome'])}</strong>."
            f" Drawn up {escape(doc['drawn_up_at'])} by {escape(doc['node']['party_id'])}.</p>"
            f"<p>Digest <code>{escape(self.digest)}</code>, signed {escape(str(self.signature.get('alg')))}; "
            f"plan <code>{escape(doc['plan_digest'])}</code>.</p>"
            "<table><thead><tr><th>Case</th><th>Purpose</th><th>Result</th><th>Detail</th><th>Finished</th>"
            f"<th>Evidence</th></tr></thead><tbody>{rows}</tbody></table>"
            f"<h2>Confirmations</h2><ul>{signed or '<li>none yet</li>'}</ul></body></html>\n"
        )


def draw_up_minutes(
    plan: ConnectionTestPlan,
    results: Iterable[CaseResult],
    *,
    node_party_id: str,
    environment: str,
    now: datetime,
    signer: NodeSigner,
) -> SignedMinutes:
    """Minutes over every case of the plan (a case without a result is `not_run`), signed.

    The outcome is `passed` only when every case of the plan passed.
    """
    by_case = {r.case_id: r for r in results}
    cases = []
    for case in plan.cases:
        result = by_case.get(case.id)
        entry = case.to_dict()
        if result is None:
            entry.update(
                outcome=Outcome.NOT_RUN.value, started_at=None, finished_at=None, detail="", evidence={}
            )
        else:
            entry.update({k: v for k, v in result.to_dict().items() if k != "case_id"})
        cases.append(entry)
    passed = all(c["outcome"] == Outcome.PASSED.value for c in cases)
    document = {
        "type": MINUTES_TYPE,
        "article": "seed 000 Art. 10.3 step 3" + ("" if plan.foreign else " (Art. 8.1(c))"),
        "partner_id": plan.partner_id,
        "party_id": plan.party_id,
        "agreement": plan.agreement,
        "node": {"party_id": node_party_id, "environment": environment},
        "plan_digest": plan.digest,
        "drawn_up_at": now.isoformat(),
        "steps": ["domestic", "foreign"] if plan.foreign else ["domestic"],
        "cases": cases,
        "outcome": Outcome.PASSED.value if passed else Outcome.FAILED.value,
        "parties": list(PARTIES),
    }
    body = canonical_json(document)
    return SignedMinutes(body, signer.sign(body))


def verify_minutes(minutes: SignedMinutes, *, trusted: x509.Certificate | None = None) -> None:
    """Raise `MinutesInvalid` unless the signature over the canonical body verifies.

    With `trusted`, the signer must be that certificate (the node's own).
    """
    try:
        document = json.loads(minutes.body)
    except ValueError:
        raise MinutesInvalid("the minutes are not JSON") from None
    if canonical_json(document) != minutes.body:
        raise MinutesInvalid("the minutes are not in canonical form")
    sig = minutes.signature
    try:
        der = base64.b64decode(sig["x5c"][0], validate=True)
        value = base64.b64decode(sig["value"], validate=True)
        certificate = x509.load_der_x509_certificate(der)
    except (KeyError, IndexError, TypeError, ValueError):
        raise MinutesInvalid("the signature block is malformed") from None
    if trusted is not None and trusted.public_bytes(serialization.Encoding.DER) != der:
        raise MinutesInvalid("the minutes were signed by another certificate than the node's")
    try:
        _verify_signature(str(sig.get("alg")), certificate.public_key(), value, minutes.body)
    except InvalidSignature:
        raise MinutesInvalid(
            "the signature does not verify: the minutes were changed after signing"
        ) from None
