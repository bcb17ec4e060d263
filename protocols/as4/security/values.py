"""The value types the security engine takes and gives: identities, signed references, verified signatures."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["KEY_REFERENCES", "SignedReference", "SigningIdentity", "VerifiedSignature"]

# How a certificate is named in a wsse:SecurityTokenReference.
KEY_REFERENCES = ("bst", "issuer-serial", "ski")


@dataclass(frozen=True, slots=True)
class SigningIdentity:
    """Our own key pair: signs what we send and decrypts what is encrypted for us."""

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    def __post_init__(self) -> None:
        if not isinstance(self.private_key, rsa.RSAPrivateKey):
            raise ValueError("only RSA keys are supported")
        ours = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        theirs = self.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if ours != theirs:
            raise ValueError("the private key does not belong to the certificate")

    def __repr__(self) -> str:
        return f"SigningIdentity(certificate={self.certificate.subject.rfc4514_string()!r})"


@dataclass(frozen=True, slots=True)
class SignedReference:
    """One ds:Reference as signed: what the NRR receipt repeats (ebbp:MessagePartNRInformation)."""

    uri: str
    digest_method: str
    digest_value: str
    transforms: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.uri:
            raise ValueError("a signed reference needs a URI")
        try:
            base64.b64decode(self.digest_value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"digest value of {self.uri} is not base64") from None


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """A signature that verified: who signed, with which method, and every reference it covers."""

    certificate: x509.Certificate
    references: tuple[SignedReference, ...]
    signature_method: str
    # The ds:Reference elements verified, in the same order (the receipt repeats them).
    reference_elements: tuple[object, ...] = field(default=(), repr=False, compare=False)
