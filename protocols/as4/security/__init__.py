"""WS-Security 1.1 for AS4: sign, verify, encrypt and decrypt SOAP envelopes and their SwA attachments."""

from __future__ import annotations

from protocols.as4.security.algorithms import (
    DEFAULT_ENCRYPTION,
    DEFAULT_SIGNATURE,
    EncryptionAlgorithms,
    SignatureAlgorithms,
)
from protocols.as4.security.decryption import decrypt_attachments
from protocols.as4.security.encryption import encrypt_attachments
from protocols.as4.security.signing import sign_envelope
from protocols.as4.security.values import (
    KEY_REFERENCES,
    SignedReference,
    SigningIdentity,
    VerifiedSignature,
)
from protocols.as4.security.verification import find_signing_certificate, verify_envelope

__all__ = [
    "DEFAULT_ENCRYPTION",
    "DEFAULT_SIGNATURE",
    "KEY_REFERENCES",
    "EncryptionAlgorithms",
    "SignatureAlgorithms",
    "SignedReference",
    "SigningIdentity",
    "VerifiedSignature",
    "decrypt_attachments",
    "encrypt_attachments",
    "find_signing_certificate",
    "sign_envelope",
    "verify_envelope",
]
