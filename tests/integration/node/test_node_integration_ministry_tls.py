"""A ministry authenticates with its client certificate over the node's real TLS, its CA named in
node.yaml (`ministries.<id>.client_ca`), not registered as any partner's; the AS4 layer still
refuses that certificate for a partner that runs mutual TLS."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs.pki import generate_node_pki


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ministry_ca(
    directory: Path, name: str = "Customs issuing CA"
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def _client(
    directory: Path, cn: str, ca: tuple[rsa.RSAPrivateKey, x509.Certificate]
) -> tuple[Path, Path, str]:
    """A client certificate issued by `ca`: (cert path, key path, sha256 fingerprint)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca[1].subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca[0], hashes.SHA256())
    )
    cert_path, key_path = directory / f"{cn}.pem", directory / f"{cn}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path, cert.fingerprint(hashes.SHA256()).hex()


@pytest.fixture(scope="module")
def ministry_node(module_nodes, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Node b over HTTPS with partner gw-a on mutual TLS and ministry `customs` known by its certificate."""
    tmp = tmp_path_factory.mktemp("ministry-tls")
    b = module_nodes.make("node-b", tls=True)
    gw = generate_node_pki(tmp / "gw-a", "gw-a")
    b.add_partner("gw-a", "gw-a", "https://127.0.0.1:9/", gw.signing.cert, tls_ca=gw.tls.cert)
    ca = _ministry_ca(tmp / "customs")
    customs = _client(tmp / "customs", "customs-client", ca)
    unpinned = _client(tmp / "customs", "customs-other", ca)
    path = b.dir / "node.yaml"
    data = yaml.safe_load(path.read_text())
    data["ministries"] = {
        "customs": {
            "documents": ["raw"],
            "client_cert_sha256": customs[2],
            "client_ca": str(tmp / "customs" / "ca.pem"),
        }
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    b.start()
    return b, gw, customs, unpinned


def _api_get(b, path: str, client: tuple[Path, Path] | None) -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
    context = ssl.create_default_context(cafile=str(b.tls_cert))
    context.check_hostname = False
    if client is not None:
        context.load_cert_chain(str(client[0]), str(client[1]))
    url = b.endpoint.replace("/as4", path)
    try:
        with urllib.request.urlopen(url, context=context, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_a_ministry_is_known_by_its_client_certificate_over_the_node_tls(ministry_node) -> None:  # type: ignore[no-untyped-def]
    b, _, customs, _ = ministry_node
    code, body = _api_get(b, "/api/v1/submissions", (customs[0], customs[1]))
    assert code == 200, body
    assert json.loads(body) == {"items": [], "next_before": None}


def test_another_certificate_of_the_same_ministry_ca_is_not_the_ministry(ministry_node) -> None:  # type: ignore[no-untyped-def]
    b, _, _, unpinned = ministry_node
    code, body = _api_get(b, "/api/v1/submissions", (unpinned[0], unpinned[1]))
    assert code == 401 and json.loads(body)["errors"][0]["code"] == "unauthenticated"


def test_a_partner_client_certificate_is_not_a_ministry(ministry_node) -> None:  # type: ignore[no-untyped-def]
    b, gw, _, _ = ministry_node
    code, _ = _api_get(b, "/api/v1/submissions", (gw.tls.cert, gw.tls.key))
    assert code == 401


def test_the_ministry_certificate_does_not_pass_for_an_mtls_partner(ministry_node, foreign, poster) -> None:  # type: ignore[no-untyped-def]
    b, gw, customs, _ = ministry_node
    signer = foreign.identity(gw.signing.key, gw.signing.cert)
    message_id, content_type, body = foreign.craft(
        signer, from_party="gw-a", to_party="node-b", recipient_cert=b.signing_cert, payload=b"x"
    )
    status, _, answer = poster(b.endpoint, body, content_type, ca=b.tls_cert, client=(customs[0], customs[1]))
    assert (status, foreign.error_codes(answer)) == (500, ["EBMS:0101"])
    assert message_id not in [m["message_id"] for m in b.messages("inbound")]
    client = (gw.tls.cert, gw.tls.key)
    _, content_type, body = foreign.craft(
        signer, from_party="gw-a", to_party="node-b", recipient_cert=b.signing_cert, payload=b"y"
    )
    status, _, answer = poster(b.endpoint, body, content_type, ca=b.tls_cert, client=client)
    assert status == 200 and b"Receipt" in answer


def test_the_ministry_ca_stays_trusted_when_partners_change(ministry_node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    b, _, customs, _ = ministry_node
    gw = generate_node_pki(tmp_path / "gw-z", "gw-z")
    b.add_partner("gw-z", "gw-z", "https://127.0.0.1:9/", gw.signing.cert, tls_ca=gw.tls.cert)
    b.wait_for(lambda: "2 partner(s) loaded" in b.log.read_text(), timeout=30, what="partners reload")
    code, body = _api_get(b, "/api/v1/submissions", (customs[0], customs[1]))
    assert code == 200, body
    assert _api_get(b, "/api/v1/submissions", (gw.tls.cert, gw.tls.key))[0] == 401


def test_a_ministry_ca_added_to_node_yaml_is_trusted_without_a_restart(ministry_node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    b, _, customs, _ = ministry_node
    ca = _ministry_ca(tmp_path / "agri", "Plant protection issuing CA")
    agri = _client(tmp_path / "agri", "agri-client", ca)
    # Its CA is not trusted yet: the TLS handshake itself fails, so no API request could reload it.
    with pytest.raises(OSError):  # urllib's URLError or, under TLS 1.3, the SSLError of the first read
        _api_get(b, "/api/v1/submissions", (agri[0], agri[1]))
    path = b.dir / "node.yaml"
    data = yaml.safe_load(path.read_text())
    data["ministries"]["agri"] = {
        "documents": ["raw"],
        "client_cert_sha256": agri[2],
        "client_ca": str(tmp_path / "agri" / "ca.pem"),
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    b.wait_for(lambda: "client CAs are trusted" in b.log.read_text(), timeout=30, what="ministry CAs reload")
    assert _api_get(b, "/api/v1/submissions", (agri[0], agri[1]))[0] == 200
    assert _api_get(b, "/api/v1/submissions", (customs[0], customs[1]))[0] == 200
