"""The algorithm table: every signature, digest, transform and encryption algorithm the engine accepts.

Anything not in this table is refused: EBMS:0101 on the signature side, EBMS:0102 on the
encryption side. Defaults follow the eDelivery AS4 profile (rsa-sha256, sha256, exc-c14n,
xmlenc11 rsa-oaep with MGF1-SHA256, aes128-gcm).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from protocols.as4 import namespaces as ns
from protocols.as4.errors import EbmsError, EbmsException

__all__ = [
    "DATA_ENCRYPTION_KEY_SIZES",
    "DEFAULT_ENCRYPTION",
    "DEFAULT_SIGNATURE",
    "DIGEST_METHODS",
    "GCM_ONE_SHOT_BYTES",
    "KEY_TRANSPORTS",
    "MGF_METHODS",
    "SIGNATURE_METHODS",
    "EncryptionAlgorithms",
    "SignatureAlgorithms",
    "data_key_size",
    "digest_name",
    "oaep_padding",
    "signature_hash",
]

# Signature method URI -> hash used with RSASSA-PKCS1-v1_5.
SIGNATURE_METHODS: dict[str, type[hashes.HashAlgorithm]] = {
    ns.ALG_RSA_SHA256: hashes.SHA256,
    ns.ALG_RSA_SHA384: hashes.SHA384,
    ns.ALG_RSA_SHA512: hashes.SHA512,
}

# Reference digest method URI -> hashlib name.
DIGEST_METHODS: dict[str, str] = {
    ns.ALG_DIGEST_SHA256: "sha256",
    ns.ALG_DIGEST_SHA384: "sha384",
    ns.ALG_DIGEST_SHA512: "sha512",
}

# OAEP digest (ds:DigestMethod inside the EncryptionMethod); SHA-1 is the XML-Enc default.
_OAEP_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    ns.ALG_DIGEST_SHA1: hashes.SHA1,
    ns.ALG_DIGEST_SHA256: hashes.SHA256,
    ns.ALG_DIGEST_SHA384: hashes.SHA384,
    ns.ALG_DIGEST_SHA512: hashes.SHA512,
}

MGF_METHODS: dict[str, type[hashes.HashAlgorithm]] = {
    ns.ALG_MGF1_SHA1: hashes.SHA1,
    ns.ALG_MGF1_SHA224: hashes.SHA224,
    ns.ALG_MGF1_SHA256: hashes.SHA256,
    ns.ALG_MGF1_SHA384: hashes.SHA384,
    ns.ALG_MGF1_SHA512: hashes.SHA512,
}

KEY_TRANSPORTS = frozenset({ns.ALG_RSA_OAEP, ns.ALG_RSA_OAEP_MGF1P})

# Data encryption URI -> AES key length in bytes (12-byte IV first, 16-byte tag last, xmlenc11 §5.2.4).
DATA_ENCRYPTION_KEY_SIZES: dict[str, int] = {
    ns.ALG_AES128_GCM: 16,
    ns.ALG_AES256_GCM: 32,
}

# Parts up to this size are encrypted and decrypted in one call (AESGCM); larger ones stream.
GCM_ONE_SHOT_BYTES = 1024 * 1024


def _refuse(error: EbmsError, what: str, uri: str | None) -> EbmsException:
    return EbmsException(error, f"{what} {uri or '(none)'} is not accepted")


def signature_hash(uri: str | None) -> hashes.HashAlgorithm:
    if uri not in SIGNATURE_METHODS:
        raise _refuse(EbmsError.FAILED_AUTHENTICATION, "signature method", uri)
    return SIGNATURE_METHODS[uri]()


def digest_name(uri: str | None) -> str:
    if uri not in DIGEST_METHODS:
        raise _refuse(EbmsError.FAILED_AUTHENTICATION, "digest method", uri)
    return DIGEST_METHODS[uri]


def oaep_padding(key_transport: str | None, digest: str | None, mgf: str | None) -> padding.OAEP:
    """OAEP parameters of an EncryptedKey; absent digest or MGF mean SHA-1 (XML-Enc 1.0/1.1 defaults)."""
    failed = EbmsError.FAILED_DECRYPTION
    if key_transport not in KEY_TRANSPORTS:
        raise _refuse(failed, "key transport", key_transport)
    digest = digest or ns.ALG_DIGEST_SHA1
    if digest not in _OAEP_DIGESTS:
        raise _refuse(failed, "OAEP digest", digest)
    if key_transport == ns.ALG_RSA_OAEP_MGF1P:
        if mgf not in (None, ns.ALG_MGF1_SHA1):
            raise _refuse(failed, "MGF for rsa-oaep-mgf1p", mgf)
        mgf = ns.ALG_MGF1_SHA1
    mgf = mgf or ns.ALG_MGF1_SHA1
    if mgf not in MGF_METHODS:
        raise _refuse(failed, "MGF", mgf)
    return padding.OAEP(mgf=padding.MGF1(MGF_METHODS[mgf]()), algorithm=_OAEP_DIGESTS[digest](), label=None)


def data_key_size(uri: str | None) -> int:
    if uri not in DATA_ENCRYPTION_KEY_SIZES:
        raise _refuse(EbmsError.FAILED_DECRYPTION, "data encryption", uri)
    return DATA_ENCRYPTION_KEY_SIZES[uri]


@dataclass(frozen=True, slots=True)
class SignatureAlgorithms:
    signature_method: str = ns.ALG_RSA_SHA256
    digest_method: str = ns.ALG_DIGEST_SHA256

    def __post_init__(self) -> None:
        if self.signature_method not in SIGNATURE_METHODS:
            raise ValueError(f"signature method {self.signature_method} is not in the table")
        if self.digest_method not in DIGEST_METHODS:
            raise ValueError(f"digest method {self.digest_method} is not in the table")


@dataclass(frozen=True, slots=True)
class EncryptionAlgorithms:
    key_transport: str = ns.ALG_RSA_OAEP
    oaep_digest: str = ns.ALG_DIGEST_SHA256
    mgf: str = ns.ALG_MGF1_SHA256
    data_encryption: str = ns.ALG_AES128_GCM

    def __post_init__(self) -> None:
        if self.key_transport == ns.ALG_RSA_OAEP_MGF1P:
            # rsa-oaep-mgf1p fixes the MGF to MGF1-SHA1, whatever MGF was chosen for rsa-oaep.
            object.__setattr__(self, "mgf", ns.ALG_MGF1_SHA1)
        try:
            oaep_padding(self.key_transport, self.oaep_digest, self.mgf)
            data_key_size(self.data_encryption)
        except EbmsException as refused:
            raise ValueError(refused.detail) from None


DEFAULT_SIGNATURE = SignatureAlgorithms()
DEFAULT_ENCRYPTION = EncryptionAlgorithms()
