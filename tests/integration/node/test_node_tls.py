"""Mutual TLS per partner: a partner with a tls_ca must present a client certificate chaining to it."""

from __future__ import annotations

import ssl
import warnings

import pytest

from certs.pki import generate_node_pki


@pytest.fixture(scope="module")
def tls_node(module_nodes, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Node b over HTTPS; gw-a registered with its TLS certificate as tls_ca (mTLS), gw-c without."""
    tmp = tmp_path_factory.mktemp("tls")
    b = module_nodes.make("node-b", tls=True)
    pki = {name: generate_node_pki(tmp / name, name) for name in ("gw-a", "gw-c", "mallory")}
    b.add_partner(
        "gw-a", "gw-a", "https://127.0.0.1:9/", pki["gw-a"].signing.cert, tls_ca=pki["gw-a"].tls.cert
    )
    b.add_partner("gw-c", "gw-c", "https://127.0.0.1:9/", pki["gw-c"].signing.cert)
    b.start()
    return b, pki


def _message(b, pki, foreign, party: str):  # type: ignore[no-untyped-def]
    signer = foreign.identity(pki[party].signing.key, pki[party].signing.cert)
    return foreign.craft(
        signer, from_party=party, to_party="node-b", recipient_cert=b.signing_cert, payload=b"x"
    )


def test_a_partner_with_its_client_certificate_is_received(tls_node, foreign, poster) -> None:  # type: ignore[no-untyped-def]
    b, pki = tls_node
    _, content_type, body = _message(b, pki, foreign, "gw-a")
    client = (pki["gw-a"].tls.cert, pki["gw-a"].tls.key)
    status, _, answer = poster(b.endpoint, body, content_type, ca=b.tls_cert, client=client)
    assert status == 200 and b"Receipt" in answer


def test_an_mtls_partner_without_a_client_certificate_is_refused_with_0101(tls_node, foreign, poster) -> None:  # type: ignore[no-untyped-def]
    b, pki = tls_node
    message_id, content_type, body = _message(b, pki, foreign, "gw-a")
    status, _, answer = poster(b.endpoint, body, content_type, ca=b.tls_cert)
    assert (status, foreign.error_codes(answer)) == (500, ["EBMS:0101"])
    assert message_id not in [m["message_id"] for m in b.messages("inbound")]


def test_an_untrusted_client_certificate_fails_the_tls_handshake(tls_node, foreign, poster) -> None:  # type: ignore[no-untyped-def]
    b, pki = tls_node
    _, content_type, body = _message(b, pki, foreign, "gw-a")
    with pytest.raises((ssl.SSLError, OSError)):
        poster(
            b.endpoint,
            body,
            content_type,
            ca=b.tls_cert,
            client=(pki["mallory"].tls.cert, pki["mallory"].tls.key),
        )


def test_a_partner_without_a_tls_ca_needs_no_client_certificate(tls_node, foreign, poster) -> None:  # type: ignore[no-untyped-def]
    b, pki = tls_node
    _, content_type, body = _message(b, pki, foreign, "gw-c")
    status, _, _ = poster(b.endpoint, body, content_type, ca=b.tls_cert)
    assert status == 200


def test_tls_below_1_2_is_refused(tls_node) -> None:  # type: ignore[no-untyped-def]
    b, _ = tls_node
    import socket

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    warnings.simplefilter("ignore", DeprecationWarning)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        context.maximum_version = ssl.TLSVersion.TLSv1_1
        context.minimum_version = ssl.TLSVersion.TLSv1
    except ValueError:
        pytest.skip("this OpenSSL cannot even offer TLS 1.1")
    with (
        socket.create_connection(("127.0.0.1", b.port), timeout=10) as raw,
        pytest.raises((ssl.SSLError, OSError)),
    ):
        context.wrap_socket(raw).do_handshake()
