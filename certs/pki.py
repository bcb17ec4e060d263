"""Test PKI generator: a node's signing and TLS key pairs, self-signed. Never a production key.

The TLS certificate is self-signed so that a partner can take it as its own trust
anchor (`--tls-ca`, a JSSE truststore, an OpenSSL CA file): it names DNS:localhost
and IP:127.0.0.1, carries serverAuth and clientAuth, and is its own issuer.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["KeyPair", "NodePki", "generate_node_pki", "self_signed"]

_VALIDITY = _dt.timedelta(days=825)


@dataclass(frozen=True, slots=True)
class KeyPair:
    key: Path
    cert: Path


@dataclass(frozen=True, slots=True)
class NodePki:
    signing: KeyPair
    tls: KeyPair


def _name(common_name: str, unit: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "aswnode test PKI"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
        ]
    )


def _key_usage(*, content_commitment: bool) -> x509.KeyUsage:
    """An end entity's key usage: it signs and transports keys, never a CA (non-repudiation: signing)."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=content_commitment,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def self_signed(
    common_name: str,
    *,
    unit: str,
    tls: bool,
    dns_names: Sequence[str] = ("localhost",),
    ip_addresses: Sequence[str] = ("127.0.0.1",),
    now: _dt.datetime | None = None,
    key_size: int = 2048,
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A fresh RSA key and a self-signed certificate for it (a signing or a TLS certificate)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    now = now or _dt.datetime.now(_dt.UTC)
    name = _name(common_name, unit)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if tls:
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
        sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
        builder = (
            builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(_key_usage(content_commitment=False), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
        )
    else:
        # A message-signing certificate also transports the AES key (RSA-OAEP): both usages.
        builder = builder.add_extension(_key_usage(content_commitment=True), critical=True)
    cert = builder.sign(key, hashes.SHA256())
    return key, cert


def _write_private(path: Path, key: rsa.RSAPrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _write_pair(directory: Path, stem: str, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> KeyPair:
    pair = KeyPair(key=directory / f"{stem}.key", cert=directory / f"{stem}.pem")
    _write_private(pair.key, key)
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return pair


def generate_node_pki(
    directory: Path,
    party_id: str,
    *,
    dns_names: Sequence[str] = ("localhost",),
    ip_addresses: Sequence[str] = ("127.0.0.1",),
) -> NodePki:
    """Signing key/cert (signing.key, signing.pem) and TLS key/cert (tls.key, tls.pem) in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    skey, scert = self_signed(party_id, unit="AS4 message signing", tls=False)
    tkey, tcert = self_signed(
        party_id, unit="AS4 transport (TLS)", tls=True, dns_names=dns_names, ip_addresses=ip_addresses
    )
    return NodePki(
        signing=_write_pair(directory, "signing", skey, scert),
        tls=_write_pair(directory, "tls", tkey, tcert),
    )
