"""Encrypting SwA attachments: one xenc:EncryptedKey in wsse:Security, one xenc:EncryptedData per part.

WSS SwA profile 1.1 §5.5 and eDelivery AS4 §3.2.6: Attachment-Content-Only, AES-GCM with the
12-byte IV before and the 16-byte tag after the ciphertext (xmlenc11 §5.2.4), the content key
transported with RSA-OAEP (MGF1-SHA256 by default). Parts are encrypted streaming into the spool.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from lxml import etree

from protocols.as4 import namespaces as ns
from protocols.as4.payload import Attachment, SpoolFactory
from protocols.as4.security.algorithms import (
    DEFAULT_ENCRYPTION,
    EncryptionAlgorithms,
    data_key_size,
    oaep_padding,
)
from protocols.as4.security.header import new_id, qname, security
from protocols.as4.security.tokens import binary_security_token, security_token_reference
from protocols.as4.security.values import KEY_REFERENCES

__all__ = ["ENCRYPTED_MIME_TYPE", "encrypt_attachments"]

ENCRYPTED_MIME_TYPE = "application/octet-stream"
_IV_BYTES = 12


def _invalid(detail: str) -> ValueError:
    return ValueError(f"cannot encrypt: {detail}")


def _sub(parent: etree._Element, namespace: str, local: str, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, qname(namespace, local))
    for name, value in attributes.items():
        element.set(name, value)
    return element


def _encrypt_part(attachment: Attachment, key: bytes, spool_factory: SpoolFactory) -> Attachment:
    iv = os.urandom(_IV_BYTES)
    encryptor = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
    spool = spool_factory()
    spool.write(iv)
    for block in attachment.source.chunks():
        spool.write(encryptor.update(block))
    spool.write(encryptor.finalize() + encryptor.tag)
    headers = tuple((name, value) for name, value in attachment.headers if name.lower() != "content-type")
    return Attachment(attachment.content_id, ENCRYPTED_MIME_TYPE, spool.finish(), headers)


def _encrypted_data(attachment: Attachment, data_id: str, key_id: str, data_algorithm: str) -> etree._Element:
    data = etree.Element(qname(ns.NS_XENC, "EncryptedData"), nsmap={"xenc": ns.NS_XENC})
    data.set("Id", data_id)
    data.set("MimeType", attachment.mime_type)
    data.set("Type", ns.SWA_ATTACHMENT_CONTENT_ONLY)
    _sub(data, ns.NS_XENC, "EncryptionMethod", Algorithm=data_algorithm)
    key_info = etree.SubElement(data, qname(ns.NS_DS, "KeyInfo"), nsmap={"ds": ns.NS_DS})
    reference = etree.SubElement(
        key_info, qname(ns.NS_WSSE, "SecurityTokenReference"), nsmap={"wsse11": ns.NS_WSSE11}
    )
    reference.set(qname(ns.NS_WSSE11, "TokenType"), ns.TOKEN_TYPE_ENCRYPTED_KEY)
    _sub(reference, ns.NS_WSSE, "Reference", URI=f"#{key_id}")
    cipher_reference = _sub(
        _sub(data, ns.NS_XENC, "CipherData"),
        ns.NS_XENC,
        "CipherReference",
        URI=f"cid:{attachment.content_id}",
    )
    _sub(_sub(cipher_reference, ns.NS_XENC, "Transforms"), ns.NS_DS, "Transform").set(
        "Algorithm", ns.SWA_ATTACHMENT_CIPHERTEXT_TRANSFORM
    )
    return data


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
    if key_reference not in KEY_REFERENCES:
        raise _invalid(f"key reference must be one of {KEY_REFERENCES}, not {key_reference!r}")
    if not attachments:
        raise _invalid("no attachments to encrypt")
    header_security = security(envelope, _invalid, create=True)
    assert header_security is not None
    public_key = recipient.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise _invalid("the recipient certificate does not hold an RSA key")
    key = os.urandom(data_key_size(algorithms.data_encryption))
    wrapped = public_key.encrypt(
        key, oaep_padding(algorithms.key_transport, algorithms.oaep_digest, algorithms.mgf)
    )

    key_id = new_id("EK")
    encrypted_key = etree.Element(qname(ns.NS_XENC, "EncryptedKey"), nsmap={"xenc": ns.NS_XENC})
    encrypted_key.set("Id", key_id)
    method = _sub(encrypted_key, ns.NS_XENC, "EncryptionMethod", Algorithm=algorithms.key_transport)
    etree.SubElement(method, qname(ns.NS_DS, "DigestMethod"), nsmap={"ds": ns.NS_DS}).set(
        "Algorithm", algorithms.oaep_digest
    )
    if algorithms.key_transport == ns.ALG_RSA_OAEP:
        etree.SubElement(method, qname(ns.NS_XENC11, "MGF"), nsmap={"xenc11": ns.NS_XENC11}).set(
            "Algorithm", algorithms.mgf
        )
    first: list[etree._Element] = []
    token_id = None
    if key_reference == "bst":
        token, token_id = binary_security_token(recipient)
        first.append(token)
    key_info = etree.SubElement(encrypted_key, qname(ns.NS_DS, "KeyInfo"), nsmap={"ds": ns.NS_DS})
    key_info.append(security_token_reference(key_reference, recipient, token_id=token_id))
    _sub(_sub(encrypted_key, ns.NS_XENC, "CipherData"), ns.NS_XENC, "CipherValue").text = base64.b64encode(
        wrapped
    ).decode("ascii")
    reference_list = _sub(encrypted_key, ns.NS_XENC, "ReferenceList")
    first.append(encrypted_key)

    encrypted = []
    for attachment in attachments:
        data_id = new_id("ED")
        _sub(reference_list, ns.NS_XENC, "DataReference", URI=f"#{data_id}")
        first.append(_encrypted_data(attachment, data_id, key_id, algorithms.data_encryption))
        encrypted.append(_encrypt_part(attachment, key, spool))
    for position, element in enumerate(first):
        header_security.insert(position, element)
    return tuple(encrypted)
