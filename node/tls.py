"""TLS for AS4: the server context (TLS 1.2+, optional client certificates) and the per-partner client policy.

Server: a client certificate is requested (never required at the handshake) from
the union of the partners' `tls_ca` and the ministries' `client_ca` (node.yaml); a
presented certificate must chain to one of them or the handshake fails. Which
partner the chain must reach is checked after the AS4 header names the sender
(`client_chain_reaches`), because one listener serves every partner; so a ministry's
certificate is never taken for a partner's. The API checks a ministry's likewise.
Client: the partner's server certificate is verified against its `tls_ca` (or the
system trust store) with host name or IP checking; our TLS certificate is presented
when the partner has a `tls_ca` (it then runs mutual TLS).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from OpenSSL import SSL, crypto
from twisted.internet import ssl as tssl
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator
from twisted.web.client import BrowserLikePolicyForHTTPS
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

__all__ = [
    "ClientPolicy",
    "ServerTLS",
    "client_chain_reaches",
    "peer_certificate_chain",
]

_CIPHERS = (
    b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    b"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)


def _fingerprint(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())


def _verify_callback(_conn: SSL.Connection, _cert: crypto.X509, _errno: int, _depth: int, ok: int) -> bool:
    return bool(ok)


@implementer(IOpenSSLServerConnectionCreator)
class ServerTLS:
    """Creates server-side TLS connections; `update_client_cas` swaps the trusted partner CAs and
    `update_ministry_cas` the API clients' CAs at run time, each keeping the other."""

    def __init__(
        self,
        key_file: Path,
        cert_file: Path,
        client_cas: Sequence[x509.Certificate] = (),
        *,
        ministry_client_cas: Sequence[x509.Certificate] = (),
    ) -> None:
        self._key_file = key_file
        self._cert_file = cert_file
        self._partner_cas = tuple(client_cas)
        self._ministry_cas = tuple(ministry_client_cas)
        self._lock = threading.Lock()
        self._context = self._build()

    def _build(self) -> SSL.Context:
        unique = {_fingerprint(c): c for c in (*self._partner_cas, *self._ministry_cas)}
        client_cas = tuple(unique.values())
        ctx = SSL.Context(SSL.TLS_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
        ctx.set_options(SSL.OP_NO_COMPRESSION | SSL.OP_CIPHER_SERVER_PREFERENCE | SSL.OP_NO_RENEGOTIATION)
        ctx.set_cipher_list(_CIPHERS)
        ctx.use_certificate_chain_file(str(self._cert_file))
        ctx.use_privatekey_file(str(self._key_file))
        ctx.check_privatekey()
        # A session id context is required when client certificates are requested and sessions resumed.
        ctx.set_session_id(b"aswnode-as4")
        if client_cas:
            store = ctx.get_cert_store()
            assert store is not None
            for cert in client_cas:
                store.add_cert(crypto.X509.from_cryptography(cert))
                ctx.add_client_ca(crypto.X509.from_cryptography(cert))
            # VERIFY_PEER without FAIL_IF_NO_PEER_CERT: asked for, not required at the handshake.
            ctx.set_verify(SSL.VERIFY_PEER, _verify_callback)
            ctx.set_verify_depth(5)
        else:
            ctx.set_verify(SSL.VERIFY_NONE)
        return ctx

    def update_client_cas(self, client_cas: Sequence[x509.Certificate]) -> None:
        with self._lock:
            self._partner_cas = tuple(client_cas)
            self._context = self._build()

    def update_ministry_cas(self, ministry_cas: Sequence[x509.Certificate]) -> bool:
        """Trust these API clients' CAs from the next handshake; False (nothing rebuilt) if unchanged."""
        with self._lock:
            if {_fingerprint(c) for c in ministry_cas} == {_fingerprint(c) for c in self._ministry_cas}:
                return False
            self._ministry_cas = tuple(ministry_cas)
            self._context = self._build()
            return True

    def serverConnectionForTLS(self, tlsProtocol: Any) -> SSL.Connection:
        with self._lock:
            context = self._context
        return SSL.Connection(context, None)


def peer_certificate_chain(transport: Any) -> tuple[x509.Certificate, ...] | None:
    """The client's verified chain (leaf first, trust anchor last), () for a TLS client with no
    certificate, None when the connection is not TLS."""
    get_handle = getattr(transport, "getHandle", None)
    connection = get_handle() if get_handle is not None else None
    if not isinstance(connection, SSL.Connection):
        return None
    chain = connection.get_verified_chain()
    if not chain:
        return ()
    return tuple(c.to_cryptography() for c in chain)


def client_chain_reaches(chain: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate]) -> bool:
    """Whether a verified client chain ends in (or passes through) one of the partner's TLS CAs."""
    wanted = {_fingerprint(a) for a in anchors}
    return any(_fingerprint(c) in wanted for c in chain)


@implementer(IPolicyForHTTPS)
class ClientPolicy:
    """How we connect to one partner: its TLS CA (or the system's), our client certificate if it runs mTLS."""

    def __init__(
        self,
        *,
        tls_ca: Sequence[x509.Certificate] = (),
        client_key_file: Path | None = None,
        client_cert_file: Path | None = None,
    ) -> None:
        self._tls_ca = tuple(tls_ca)
        self._creators: dict[tuple[bytes, int], Any] = {}
        self._client: tssl.PrivateCertificate | None = None
        if self._tls_ca and client_key_file is not None and client_cert_file is not None:
            pem = client_cert_file.read_bytes() + b"\n" + client_key_file.read_bytes()
            self._client = tssl.PrivateCertificate.loadPEM(pem)

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        # Asked on every request, also one that reuses a pooled connection: one TLS context per
        # endpoint, not one per request (building it loads the roots and the client key).
        creator = self._creators.get((hostname, port))
        if creator is None:
            creator = self._creators[(hostname, port)] = self._creator(hostname, port)
        return creator

    def _creator(self, hostname: bytes, port: int) -> Any:
        if not self._tls_ca:
            return BrowserLikePolicyForHTTPS().creatorForNetloc(hostname, port)
        roots = tssl.trustRootFromCertificates(
            [tssl.Certificate.loadPEM(c.public_bytes(serialization.Encoding.PEM)) for c in self._tls_ca]
        )
        return tssl.optionsForClientTLS(
            hostname.decode("ascii"),
            trustRoot=roots,
            clientCertificate=self._client,
            extraCertificateOptions={"raiseMinimumTo": tssl.TLSVersion.TLSv1_2},
        )


def endpoint_host(url: str) -> str:
    return urlsplit(url).hostname or ""
