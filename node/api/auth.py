"""Who is calling: a ministry by bearer token (compared in constant time) or TLS client certificate."""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from node.api.errors import ApiError, FieldError
from node.api.live_ministries import LiveMinistries
from node.api.ministries import Ministry, MinistryRegistry

__all__ = ["Authenticator"]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="aswnode"'}


class Authenticator:
    """Turns a request into the calling Ministry, or a 401 that says nothing about which part was wrong.
    With a LiveMinistries each request is checked against node.yaml as it is now."""

    def __init__(self, registry: MinistryRegistry | LiveMinistries) -> None:
        self._registry = registry

    async def __call__(self, request: Any) -> Ministry:
        header = request.getHeader(b"authorization")
        if header:
            scheme, _, token = header.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                ministry = self._registry.by_token(token.strip())
                if ministry is not None:
                    return ministry
            raise self._unauthorised()
        fingerprint = _client_certificate_sha256(request)
        if fingerprint is not None:
            ministry = self._registry.by_certificate(fingerprint)
            if ministry is not None and ministry.chain_accepted(_verified_chain(request)):
                return ministry
        raise self._unauthorised()

    @staticmethod
    def _unauthorised() -> ApiError:
        return ApiError(
            401,
            (
                FieldError(
                    "unauthenticated",
                    "needs a valid API token (Authorization: Bearer) or client certificate",
                    "",
                ),
            ),
            _CHALLENGE,
        )


def _verified_chain(request: Any) -> tuple[x509.Certificate, ...] | None:
    from node.tls import peer_certificate_chain

    return peer_certificate_chain(getattr(getattr(request, "channel", None), "transport", None))


def _client_certificate_sha256(request: Any) -> str | None:
    transport = getattr(getattr(request, "channel", None), "transport", None)
    get_peer = getattr(transport, "getPeerCertificate", None)
    if get_peer is None:
        return None
    try:
        cert = get_peer()
    except Exception:
        return None
    if cert is None:
        return None
    return cert.to_cryptography().fingerprint(hashes.SHA256()).hex()
