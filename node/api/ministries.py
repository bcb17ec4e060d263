"""The ministries the operator configures in node.yaml `ministries:`: documents, credentials, webhook."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes

__all__ = [
    "DOCUMENT_TYPES",
    "Ministry",
    "MinistryConfigError",
    "MinistryRegistry",
    "hash_token",
    "new_token",
    "parse_ministries",
]

DOCUMENT_TYPES = ("eco", "ephyto", "raw")
_ID = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")
_TOKEN_PREFIX = "aswm_"


class MinistryConfigError(ValueError):
    """A bad `ministries:` entry: `key` is the dotted path inside node.yaml."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}")


def new_token() -> str:
    """A fresh API token: 256 random bits, shown to the operator once and stored only as its hash."""
    return _TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens are 256-bit random values, so a plain SHA-256 cannot be brute-forced; no slow KDF needed.
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def _fingerprint(value: str) -> str:
    return value.replace(":", "").strip().lower()


@dataclass(frozen=True, slots=True)
class Ministry:
    """One API client: `documents` are the types it submits and receives, `routes` extra (service, action)."""

    id: str
    name: str
    documents: tuple[str, ...]
    token_hash: str | None = None
    client_cert_sha256: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    routes: tuple[tuple[str, str | None], ...] = ()
    # node.yaml `client_ca`: CA(s) its client certificate must chain to; the node TLS server trusts them.
    client_ca: str | None = None
    client_ca_certificates: tuple[x509.Certificate, ...] = ()

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"ministry id {self.id!r} must be lower-case letters, digits, - or _")
        for doc in self.documents:
            if doc not in DOCUMENT_TYPES:
                raise ValueError(f"unknown document type {doc!r} (known: {', '.join(DOCUMENT_TYPES)})")
        if self.token_hash is None and self.client_cert_sha256 is None:
            raise ValueError("a ministry needs an api token hash or a client certificate fingerprint")
        if self.webhook_url is not None and not self.webhook_secret:
            raise ValueError("a webhook needs a secret to sign with")
        if self.client_ca is not None and self.client_cert_sha256 is None:
            raise ValueError(
                "client_ca needs client_cert_sha256 (the certificate it issued to this ministry)"
            )

    def token_matches(self, token: str) -> bool:
        if self.token_hash is None:
            return False
        return hmac.compare_digest(self.token_hash.encode(), hash_token(token).encode())

    def certificate_matches(self, sha256_hex: str) -> bool:
        if self.client_cert_sha256 is None:
            return False
        return hmac.compare_digest(self.client_cert_sha256.encode(), _fingerprint(sha256_hex).encode())

    def chain_accepted(self, chain: tuple[x509.Certificate, ...] | None) -> bool:
        """With a `client_ca`, the verified TLS chain must reach it (a pin alone is not enough then)."""
        if self.client_ca is None:
            return True
        from node.tls import client_chain_reaches

        return bool(chain) and client_chain_reaches(chain or (), self.client_ca_certificates)

    def __repr__(self) -> str:  # never show the secrets
        return f"Ministry(id={self.id!r}, documents={self.documents!r})"


@dataclass(frozen=True, slots=True)
class MinistryRegistry:
    ministries: tuple[Ministry, ...] = ()

    def __post_init__(self) -> None:
        ids = [m.id for m in self.ministries]
        if len(ids) != len(set(ids)):
            raise ValueError("two ministries share an id")

    def by_id(self, ministry_id: str) -> Ministry | None:
        return next((m for m in self.ministries if m.id == ministry_id), None)

    def by_token(self, token: str) -> Ministry | None:
        # Check every entry (no early exit) so the time taken says nothing about which one matched.
        found = None
        for ministry in self.ministries:
            if ministry.token_matches(token) and found is None:
                found = ministry
        return found

    def by_certificate(self, sha256_hex: str) -> Ministry | None:
        found = None
        for ministry in self.ministries:
            if ministry.certificate_matches(sha256_hex) and found is None:
                found = ministry
        return found

    def receivers(
        self, document_type: str | None, service: str | None, action: str | None
    ) -> tuple[Ministry, ...]:
        """Who gets an inbound document: a matching (service, action) route first, else the document type."""
        by_route = tuple(
            m
            for m in self.ministries
            if any(s == service and (a is None or a == action) for s, a in m.routes)
        )
        if by_route:
            return by_route
        if document_type is None:
            return ()
        return tuple(m for m in self.ministries if document_type in m.documents)

    def client_cas(self) -> tuple[x509.Certificate, ...]:
        """Every ministry's `client_ca` certificates, once each: added to the TLS server's trust."""
        seen: dict[bytes, x509.Certificate] = {}
        for ministry in self.ministries:
            for cert in ministry.client_ca_certificates:
                seen.setdefault(cert.fingerprint(hashes.SHA256()), cert)
        return tuple(seen.values())


def parse_ministries(section: Any, directory: Path | None = None) -> MinistryRegistry:
    """The `ministries:` section (id → entry, or absent) → registry; errors name `ministries.<id>.key`.
    `client_ca` files are read relative to the node `directory`; without one they are not read, and a
    ministry with a `client_ca` is then never accepted by certificate (fails closed)."""
    if not section:
        return MinistryRegistry()
    if not isinstance(section, Mapping):
        raise MinistryConfigError("ministries", "must be a mapping of ministry id to its settings")
    out = []
    for ministry_id, entry in section.items():
        where = f"ministries.{ministry_id}"
        if not isinstance(entry, Mapping):
            raise MinistryConfigError(where, "must be a mapping with name, documents, api_token_sha256")
        out.append(_parse_one(where, str(ministry_id), entry, directory))
    try:
        return MinistryRegistry(tuple(out))
    except ValueError as exc:
        raise MinistryConfigError("ministries", str(exc)) from None


def _client_ca(
    where: str, value: Any, directory: Path | None
) -> tuple[str | None, tuple[x509.Certificate, ...]]:
    if value is None:
        return None, ()
    if not isinstance(value, str) or not value.strip():
        raise MinistryConfigError(f"{where}.client_ca", "must be the path of a PEM file (CA certificates)")
    if directory is None:
        return value, ()
    from node.config import ConfigError
    from node.partners import load_certificates

    try:
        certs = load_certificates(directory / value, file="node.yaml", key=f"{where}.client_ca")
    except ConfigError as exc:
        raise MinistryConfigError(exc.key, exc.message) from None
    return value, certs


def _parse_one(where: str, ministry_id: str, entry: Mapping[str, Any], directory: Path | None) -> Ministry:
    known = {"name", "documents", "api_token_sha256", "client_cert_sha256", "client_ca", "webhook", "routes"}
    for key in entry:
        if key not in known:
            raise MinistryConfigError(f"{where}.{key}", f"unknown key (known: {', '.join(sorted(known))})")
    if not _ID.match(ministry_id):
        raise MinistryConfigError(where, "the id must be lower-case letters, digits, - or _ (such as moit)")
    documents = entry.get("documents", [])
    if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
        raise MinistryConfigError(f"{where}.documents", "must be a list of document types (eco, ephyto, raw)")
    token_hash = entry.get("api_token_sha256")
    if token_hash is not None and not (
        isinstance(token_hash, str)
        and token_hash.startswith("sha256:")
        and _FINGERPRINT.match(token_hash[7:])
    ):
        raise MinistryConfigError(f"{where}.api_token_sha256", "must be sha256:<64 hex digits>")
    cert = entry.get("client_cert_sha256")
    if cert is not None:
        if not isinstance(cert, str) or not _FINGERPRINT.match(_fingerprint(cert)):
            raise MinistryConfigError(f"{where}.client_cert_sha256", "must be a SHA-256 fingerprint in hex")
        cert = _fingerprint(cert)
    webhook_url = webhook_secret = None
    webhook = entry.get("webhook")
    if webhook is not None:
        if not isinstance(webhook, Mapping):
            raise MinistryConfigError(f"{where}.webhook", "must be a mapping with url and secret")
        webhook_url, webhook_secret = webhook.get("url"), webhook.get("secret")
        parts = urlsplit(webhook_url) if isinstance(webhook_url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise MinistryConfigError(f"{where}.webhook.url", "must be an http(s) URL")
        if not isinstance(webhook_secret, str) or len(webhook_secret) < 16:
            raise MinistryConfigError(f"{where}.webhook.secret", "must be a string of at least 16 characters")
    routes = []
    for j, route in enumerate(entry.get("routes", []) or []):
        if not isinstance(route, Mapping) or not isinstance(route.get("service"), str):
            raise MinistryConfigError(
                f"{where}.routes[{j}]", "must be a mapping with service (and optional action)"
            )
        action = route.get("action")
        if action is not None and not isinstance(action, str):
            raise MinistryConfigError(f"{where}.routes[{j}].action", "must be a string")
        routes.append((route["service"], action))
    client_ca, client_ca_certificates = _client_ca(where, entry.get("client_ca"), directory)
    try:
        return Ministry(
            id=ministry_id,
            name=str(entry.get("name") or ministry_id),
            documents=tuple(documents),
            token_hash=token_hash,
            client_cert_sha256=cert,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            routes=tuple(routes),
            client_ca=client_ca,
            client_ca_certificates=client_ca_certificates,
        )
    except ValueError as exc:
        raise MinistryConfigError(where, str(exc)) from None
