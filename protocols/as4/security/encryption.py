"""Encrypting SwA attachments: one xenc:EncryptedKey in wsse:Security, one xenc:EncryptedData per part.

WSS SwA profile 1.1 §5.5 and eDelivery AS4 §3.2.6: Attachment-Content-Only, AES-GCM with the
12-byte IV before and the 16-byte tag after the ciphertext (xmlenc11 §5.2.4), the content key
transported with RSA-OAEP (MGF1-SHA256 by default). Parts are encrypted streaming into the spool.
"""

from __future__ import annotations

import base64
import functools
import os
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree

from protocols.as4 import namespaces as ns
from protocols.as4.markup import attribute, fragments
from protocols.as4.payload import Attachment, SpoolFactory
from protocols.as4.security.algorithms import (
    DEFAULT_ENCRYPTION,
    GCM_ONE_SHOT_BYTES,
    EncryptionAlgorithms,
    data_key_size,
    oaep_padding,
)
from protocols.as4.security.header import new_id, security
from protocols.as4.security.tokens import binary_security_token_markup, security_token_reference_markup
from protocols.as4.security.values import KEY_REFERENCES

__all__ = ["ENCRYPTED_MIME_TYPE", "encrypt_attachments", "encryption_markup"]

ENCRYPTED_MIME_TYPE = "application/octet-stream"
_IV_BYTES = 12


def _invalid(detail: str) -> ValueError:
    return ValueError(f"cannot encrypt: {detail}")


def _encrypt_part(attachment: Attachment, key: bytes, spool_factory: SpoolFactory) -> Attachment:
    iv = os.urandom(_IV_BYTES)
    spool = spool_factory()
    spool.write(iv)
    source = attachment.source
    if source.size <= GCM_ONE_SHOT_BYTES:
        spool.write(AESGCM(key).encrypt(iv, b"".join(source.chunks()), None))
    else:
        encryptor = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
        for block in source.chunks():
            spool.write(encryptor.update(block))
        spool.write(encryptor.finalize() + encryptor.tag)
    headers = tuple((name, value) for name, value in attachment.headers if name.lower() != "content-type")
    return Attachment(attachment.content_id, ENCRYPTED_MIME_TYPE, spool.finish(), headers)


def _encrypted_data(attachment: Attachment, data_id: str, key_id: str, data_algorithm: str) -> str:
    return (
        f'<xenc:EncryptedData xmlns:xenc="{ns.NS_XENC}" Id="{data_id}" '
        f'MimeType="{attribute(attachment.mime_type)}" Type="{ns.SWA_ATTACHMENT_CONTENT_ONLY}">'
        f'<xenc:EncryptionMethod Algorithm="{data_algorithm}"/>'
        f'<ds:KeyInfo xmlns:ds="{ns.NS_DS}">'
        f'<wsse:SecurityTokenReference xmlns:wsse="{ns.NS_WSSE}" xmlns:wsse11="{ns.NS_WSSE11}" '
        f'wsse11:TokenType="{ns.TOKEN_TYPE_ENCRYPTED_KEY}"><wsse:Reference URI="#{key_id}"/>'
        "</wsse:SecurityTokenReference></ds:KeyInfo>"
        f'<xenc:CipherData><xenc:CipherReference URI="{attribute("cid:" + attachment.content_id)}">'
        f'<xenc:Transforms><ds:Transform xmlns:ds="{ns.NS_DS}" '
        f'Algorithm="{ns.SWA_ATTACHMENT_CIPHERTEXT_TRANSFORM}"/></xenc:Transforms>'
        "</xenc:CipherReference></xenc:CipherData></xenc:EncryptedData>"
    )


@functools.lru_cache(maxsize=64)
def _oaep(algorithms: EncryptionAlgorithms) -> padding.OAEP:
    return oaep_padding(algorithms.key_transport, algorithms.oaep_digest, algorithms.mgf)


def encrypt_attachments(
    envelope: etree._Element,
    attachments: Sequence[Attachment],
    recipient: x509.Certificate,
    *,
    algorithms: EncryptionAlgorithms = DEFAULT_ENCRYPTION,
    key_reference: str = "bst",
    spool: SpoolFactory,
) -> tuple[Attachment, ...]:
    """Encrypt every given attachment for `recipient`; the encrypted parts, in the same order.

    The EncryptedKey, its recipient BST (key_reference "bst") and the EncryptedData elements go
    first in wsse:Security, so a receiver decrypts before it verifies the signature that follows.
    """
    markup, encrypted = encryption_markup(
        attachments, recipient, algorithms=algorithms, key_reference=key_reference, spool=spool
    )
    header_security = security(envelope, _invalid, create=True)
    assert header_security is not None
    for position, element in enumerate(fragments(markup)):
        header_security.insert(position, element)
    return encrypted


def encryption_markup(
    attachments: Sequence[Attachment],
    recipient: x509.Certificate,
    *,
    algorithms: EncryptionAlgorithms = DEFAULT_ENCRYPTION,
    key_reference: str = "bst",
    spool: SpoolFactory,
) -> tuple[str, tuple[Attachment, ...]]:
    """Every attachment encrypted for `recipient`, and the markup that goes first in wsse:Security:
    the recipient's token (key_reference "bst"), the EncryptedKey and one EncryptedData per part."""
    if key_reference not in KEY_REFERENCES:
        raise _invalid(f"key reference must be one of {KEY_REFERENCES}, not {key_reference!r}")
    if not attachments:
        raise _invalid("no attachments to encrypt")
    public_key = recipient.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise _invalid("the recipient certificate does not hold an RSA key")
    key = os.urandom(data_key_size(algorithms.data_encryption))
    wrapped = public_key.encrypt(key, _oaep(algorithms))

    key_id = new_id("EK")
    data_ids = [new_id("ED") for _ in attachments]
    token = token_id = None
    if key_reference == "bst":
        token, token_id = binary_security_token_markup(recipient)
    mgf = (
        f'<xenc11:MGF xmlns:xenc11="{ns.NS_XENC11}" Algorithm="{algorithms.mgf}"/>'
        if algorithms.key_transport == ns.ALG_RSA_OAEP
        else ""
    )
    data_references = "".join(f'<xenc:DataReference URI="#{data_id}"/>' for data_id in data_ids)
    encrypted_key = (
        f'<xenc:EncryptedKey xmlns:xenc="{ns.NS_XENC}" Id="{key_id}">'
        f'<xenc:EncryptionMethod Algorithm="{algorithms.key_transport}">'
        f'<ds:DigestMethod xmlns:ds="{ns.NS_DS}" Algorithm="{algorithms.oaep_digest}"/>{mgf}'
        f'</xenc:EncryptionMethod><ds:KeyInfo xmlns:ds="{ns.NS_DS}">'
        f"{security_token_reference_markup(key_reference, recipient, token_id=token_id)}</ds:KeyInfo>"
        f"<xenc:CipherData><xenc:CipherValue>{base64.b64encode(wrapped).decode('ascii')}"
        "</xenc:CipherValue></xenc:CipherData><xenc:ReferenceList>"
        f"{data_references}"
        "</xenc:ReferenceList></xenc:EncryptedKey>"
    )
    markup = (token or "") + encrypted_key
    markup += "".join(
        _encrypted_data(attachment, data_id, key_id, algorithms.data_encryption)
        for attachment, data_id in zip(attachments, data_ids, strict=True)
    )
    encrypted = tuple(_encrypt_part(attachment, key, spool) for attachment in attachments)
    return markup, encrypted
