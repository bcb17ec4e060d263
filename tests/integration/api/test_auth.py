"""node.api.auth: a ministry is known by its token or, over real TLS, by its client certificate; else 401."""

from __future__ import annotations

import json
from pathlib import Path

import pytest_twisted
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from twisted.internet import reactor, ssl
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.web import client, resource, server
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

from certs.pki import generate_node_pki
from node.api import api_resource
from node.api.ministries import hash_token, parse_ministries
from node.tls import ServerTLS


@implementer(IPolicyForHTTPS)
class _Policy:
    def __init__(self, options: object) -> None:
        self._options = options

    def creatorForNetloc(self, hostname: bytes, port: int) -> object:
        return self._options


async def _get(url: str, options: object) -> tuple[int, bytes]:
    agent = client.Agent(reactor, contextFactory=_Policy(options))
    response = await agent.request(b"GET", url.encode())
    return response.code, await client.readBody(response)


@pytest_twisted.ensureDeferred
async def test_a_registered_client_certificate_identifies_its_ministry_over_tls(api_node, tmp_path: Path):
    ministry_pki = generate_node_pki(tmp_path / "customs-keys", "customs")
    stranger_pki = generate_node_pki(tmp_path / "stranger-keys", "stranger")
    ministry_cert = x509.load_pem_x509_certificate(ministry_pki.tls.cert.read_bytes())
    stranger_cert = x509.load_pem_x509_certificate(stranger_pki.tls.cert.read_bytes())
    registry = parse_ministries(
        {
            "customs": {
                "documents": ["raw"],
                "client_cert_sha256": ministry_cert.fingerprint(hashes.SHA256()).hex(":"),
            },
            "moit": {"documents": ["eco"], "api_token_sha256": hash_token(api_node.tokens["moit"])},
        }
    )
    keys = api_node.directory / "keys"
    # The node's own TLS server; both client certificates chain to a trusted CA (each is its own).
    tls = ServerTLS(keys / "tls.key", keys / "tls.pem", client_cas=(ministry_cert, stranger_cert))
    root = resource.Resource()
    api = resource.Resource()
    root.putChild(b"api", api)
    api.putChild(b"v1", api_resource(api_node.ctx, registry))
    port = reactor.listenTCP(0, TLSMemoryBIOFactory(tls, False, server.Site(root)), interface="127.0.0.1")
    url = f"https://127.0.0.1:{port.getHost().port}/api/v1/submissions"
    trust = ssl.Certificate.loadPEM((keys / "tls.pem").read_bytes())
    try:

        def options(pki: object | None) -> object:
            own = None
            if pki is not None:
                own = ssl.PrivateCertificate.loadPEM(pki.tls.cert.read_bytes() + pki.tls.key.read_bytes())
            return ssl.optionsForClientTLS("127.0.0.1", trustRoot=trust, clientCertificate=own)

        code, body = await _get(url, options(ministry_pki))
        assert code == 200 and json.loads(body) == {"items": [], "next_before": None}
        code, body = await _get(url, options(stranger_pki))
        assert code == 401 and json.loads(body)["errors"][0]["code"] == "unauthenticated"
        code, _ = await _get(url, options(None))
        assert code == 401
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_without_a_valid_token_the_api_answers_401_and_never_echoes_the_token(api_node):
    r = await api_node.call("GET", "/api/v1/submissions", ministry=None)
    assert r.code == 401 and r.header("www-authenticate").startswith("Bearer")
    wrong = "aswm_" + "A" * 43
    r = await api_node.call(
        "GET", "/api/v1/submissions", ministry=None, headers={"Authorization": f"Bearer {wrong}"}
    )
    assert r.code == 401 and wrong.encode() not in r.body
    r = await api_node.call("DELETE", "/api/v1/submissions", ministry="moit")
    assert r.code == 405 and "GET" in r.header("allow")
    r = await api_node.call("GET", "/api/v1/nothing-here", ministry="moit")
    assert r.code == 404
