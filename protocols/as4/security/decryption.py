"""Decrypting SwA attachments encrypted for us, releasing nothing the GCM tag has not authenticated.

Accepts every xenc:EncryptedKey in our wsse:Security whose key transport is in the table
(xmlenc11 rsa-oaep with any declared digest and MGF, rsa-oaep-mgf1p), whatever key-reference
style names the recipient (BST, IssuerSerial, SKI: when it can be resolved it must name our
certificate), and AES-128/256-GCM EncryptedData with a `cid:` CipherReference. Any failure
raises EbmsException(EBMS:0102).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Sequence
from urllib.parse import unquote

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree

from protocols.as4 import namespaces as ns
from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.payload import Attachment, ByteSource, SpoolFactory
from protocols.as4.security.algorithms import (
    GCM_ONE_SHOT_BYTES,
    data_key_size,
    oaep_padding,
)
from protocols.as4.security.header import id_index, qname, security
from protocols.as4.security.tokens import matches, read_token_reference
from protocols.as4.security.values import SigningIdentity

__all__ = ["decrypt_attachments"]

_IV_BYTES = 12
_TAG_BYTES = 16
# type/subtype and parameters in printable ASCII: it may become a MIME header again downstream
_MIME_TYPE = re.compile(r"[!-~]+/[!-~]+(?:[ \t]*;[ -~]*)?")


def _fail(detail: str) -> EbmsException:
    return EbmsException(EbmsError.FAILED_DECRYPTION, detail)


def _child(parent: etree._Element, namespace: str, local: str) -> etree._Element | None:
    tag = qname(namespace, local)
    found = [child for child in parent if child.tag == tag]
    if len(found) > 1:
        raise _fail(f"more than one {local} in {etree.QName(parent).localname}")
    return found[0] if found else None


def _required(parent: etree._Element, namespace: str, local: str) -> etree._Element:
    found = _child(parent, namespace, local)
    if found is None:
        raise _fail(f"{etree.QName(parent).localname} has no {local}")
    return found


def _b64decode(text: str | None, what: str) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        raise _fail(f"{what} is not base64") from None


def _check_addressee(
    encrypted_key: etree._Element,
    root: etree._Element,
    ids: dict[str, list[etree._Element]],
    own: SigningIdentity,
) -> None:
    """Refuse a key addressed to another certificate; a reference we cannot read (a thumbprint,
    a token not in the message) names nobody we know, so our own key decides."""
    key_info = _child(encrypted_key, ns.NS_DS, "KeyInfo")
    if key_info is None:
        return
    reference = _child(key_info, ns.NS_WSSE, "SecurityTokenReference")
    if reference is None:
        return
    try:
        named = read_token_reference(reference, root, _fail, ids)
    except EbmsException:
        return
    if not matches(named, own.certificate):
        raise _fail(f"the EncryptedKey is addressed to another certificate ({named.style} reference)")


def _content_key(
    encrypted_key: etree._Element,
    root: etree._Element,
    ids: dict[str, list[etree._Element]],
    own: SigningIdentity,
) -> bytes:
    method = _required(encrypted_key, ns.NS_XENC, "EncryptionMethod")
    digest = _child(method, ns.NS_DS, "DigestMethod")
    mgf = _child(method, ns.NS_XENC11, "MGF")
    if _child(method, ns.NS_XENC, "OAEPparams") is not None:
        raise _fail("OAEPparams are not accepted")
    oaep = oaep_padding(
        method.get("Algorithm"),
        None if digest is None else digest.get("Algorithm"),
        None if mgf is None else mgf.get("Algorithm"),
    )
    _check_addressee(encrypted_key, root, ids, own)
    value = _required(_required(encrypted_key, ns.NS_XENC, "CipherData"), ns.NS_XENC, "CipherValue")
    try:
        return own.private_key.decrypt(_b64decode(value.text, "EncryptedKey CipherValue"), oaep)
    except ValueError:
        raise _fail("the content key does not decrypt with our private key") from None


def _gcm_plaintext(source: ByteSource, key: bytes, content_id: str) -> Iterator[bytes]:
    """Plaintext blocks; the last step checks the tag, so a consumer must not release them before."""
    if source.size < _IV_BYTES + _TAG_BYTES:
        raise _fail(f"ciphertext of {content_id} is shorter than IV and tag")
    chunks = source.chunks()
    head = b""
    for block in chunks:
        head += block
        if len(head) >= _IV_BYTES:
            break
    if len(head) < _IV_BYTES:
        raise _fail(f"ciphertext of {content_id} is shorter than IV and tag")
    iv, held = head[:_IV_BYTES], head[_IV_BYTES:]
    if source.size <= GCM_ONE_SHOT_BYTES:
        # A small part in one call: nothing comes out unless the tag verified.
        for block in chunks:
            held += block
        try:
            yield AESGCM(key).decrypt(iv, held, None)
        except InvalidTag:
            raise _fail(
                f"AES-GCM tag of {content_id} does not verify (wrong key or altered ciphertext)"
            ) from None
        return
    decryptor = Cipher(algorithms.AES(key), modes.GCM(iv)).decryptor()
    for block in chunks:
        held += block
        if len(held) > _TAG_BYTES:
            yield decryptor.update(held[:-_TAG_BYTES])
            held = held[-_TAG_BYTES:]
    if len(held) < _TAG_BYTES:
        raise _fail(f"ciphertext of {content_id} is shorter than IV and tag")
    ciphertext, tag = held[:-_TAG_BYTES], held[-_TAG_BYTES:]
    if ciphertext:
        yield decryptor.update(ciphertext)
    try:
        yield decryptor.finalize_with_tag(tag)
    except InvalidTag:
        raise _fail(
            f"AES-GCM tag of {content_id} does not verify (wrong key or altered ciphertext)"
        ) from None


def _decrypt_part(
    encrypted_data: etree._Element, key: bytes, by_cid: dict[str, Attachment], spool_factory: SpoolFactory
) -> Attachment:
    data_id = encrypted_data.get("Id")
    if encrypted_data.get("Type") != ns.SWA_ATTACHMENT_CONTENT_ONLY:
        raise _fail(
            f"EncryptedData {data_id} Type {encrypted_data.get('Type')} is not Attachment-Content-Only"
        )
    method = _required(encrypted_data, ns.NS_XENC, "EncryptionMethod")
    if len(key) != data_key_size(method.get("Algorithm")):
        raise _fail(f"content key of {len(key)} bytes does not fit {method.get('Algorithm')}")
    cipher_data = _required(encrypted_data, ns.NS_XENC, "CipherData")
    cipher_reference = _child(cipher_data, ns.NS_XENC, "CipherReference")
    uri = "" if cipher_reference is None else cipher_reference.get("URI") or ""
    if cipher_reference is None or not uri.startswith("cid:"):
        raise _fail(f"EncryptedData {data_id} has no cid: CipherReference (only attachments are decrypted)")
    transforms = _child(cipher_reference, ns.NS_XENC, "Transforms")
    if transforms is not None:
        for transform in transforms:
            if (
                isinstance(transform.tag, str)
                and transform.get("Algorithm") != ns.SWA_ATTACHMENT_CIPHERTEXT_TRANSFORM
            ):
                raise _fail(f"CipherReference transform {transform.get('Algorithm')} is not accepted")
    mime_type = encrypted_data.get("MimeType") or "application/octet-stream"
    if not _MIME_TYPE.fullmatch(mime_type):
        raise _fail(f"EncryptedData {data_id} MimeType is not a media type")
    content_id = unquote(uri[4:])
    attachment = by_cid.get(content_id)
    if attachment is None:
        raise _fail(f"encrypted attachment {content_id} is not in the message")
    spool = spool_factory()
    for block in _gcm_plaintext(attachment.source, key, content_id):
        spool.write(block)
    headers = tuple((name, value) for name, value in attachment.headers if name.lower() != "content-type")
    return Attachment(content_id, mime_type, spool.finish(), headers)


def _resolve(uri: str, ids: dict[str, list[etree._Element]], local: str, what: str) -> etree._Element:
    targets = ids.get(uri[1:], []) if uri.startswith("#") else []
    if len(targets) != 1 or targets[0].tag != qname(ns.NS_XENC, local):
        raise _fail(f"{what} {uri!r} does not resolve to exactly one {local}")
    return targets[0]


def _pairs(
    keys: list[etree._Element], data: list[etree._Element], ids: dict[str, list[etree._Element]]
) -> list[tuple[etree._Element, etree._Element]]:
    """(EncryptedData, EncryptedKey) pairs: by the key's ReferenceList (WSS4J, AS4.NET, the peer),
    else by the EncryptedData's own KeyInfo reference to the key."""
    pairs: list[tuple[etree._Element, etree._Element]] = []
    for encrypted_key in keys:
        reference_list = _child(encrypted_key, ns.NS_XENC, "ReferenceList")
        for reference in [] if reference_list is None else reference_list:
            if not isinstance(reference.tag, str):
                continue
            if reference.tag != qname(ns.NS_XENC, "DataReference"):
                raise _fail(f"unsupported {etree.QName(reference).localname} in the ReferenceList")
            target = _resolve(reference.get("URI") or "", ids, "EncryptedData", "DataReference")
            pairs.append((target, encrypted_key))
    listed = [element for element, _ in pairs]
    for element in data:
        if any(element is other for other in listed):
            continue
        key_info = _child(element, ns.NS_DS, "KeyInfo")
        token = None if key_info is None else _child(key_info, ns.NS_WSSE, "SecurityTokenReference")
        direct = None if token is None else _child(token, ns.NS_WSSE, "Reference")
        if direct is None:
            raise _fail(f"EncryptedData {element.get('Id')} is not referenced by any EncryptedKey")
        encrypted_key = _resolve(direct.get("URI") or "", ids, "EncryptedKey", "key reference")
        if not any(encrypted_key is key for key in keys):
            raise _fail(f"EncryptedData {element.get('Id')} names an EncryptedKey outside wsse:Security")
        pairs.append((element, encrypted_key))
    return pairs


def decrypt_attachments(
    envelope: etree._Element,
    attachments: Sequence[Attachment],
    own: SigningIdentity,
    *,
    spool: SpoolFactory,
    ids: dict[str, list[etree._Element]] | None = None,
) -> tuple[Attachment, ...]:
    """Every attachment, decrypted where the message encrypted it for us, in the original order.

    The returned part carries EncryptedData/@MimeType as its type. A spool's source is returned
    only after the GCM tag of that part verified. `ids` is `header.id_index(envelope)` when the
    caller already built it for this document (decryption does not change the envelope).
    """
    header_security = security(envelope, _fail)
    keys = (
        []
        if header_security is None
        else list(header_security.iterchildren(qname(ns.NS_XENC, "EncryptedKey")))
    )
    data = list(envelope.iter(qname(ns.NS_XENC, "EncryptedData")))
    if not keys:
        if data:
            raise _fail("EncryptedData without an EncryptedKey in wsse:Security")
        return tuple(attachments)
    if ids is None:
        ids = id_index(envelope)
    by_cid = {attachment.content_id: attachment for attachment in attachments}
    pairs = _pairs(keys, data, ids)
    for position, (element, _) in enumerate(pairs):
        if any(element is other for other, _ in pairs[:position]):
            raise _fail(f"EncryptedData {element.get('Id')} is referenced twice")
    content_keys: dict[int, bytes] = {}
    decrypted: dict[str, Attachment] = {}
    for element, encrypted_key in pairs:
        index = next(i for i, key in enumerate(keys) if key is encrypted_key)
        if index not in content_keys:
            content_keys[index] = _content_key(encrypted_key, envelope, ids, own)
        part = _decrypt_part(element, content_keys[index], by_cid, spool)
        if part.content_id in decrypted:
            raise _fail(f"attachment {part.content_id} is encrypted twice")
        decrypted[part.content_id] = part
    return tuple(decrypted.get(attachment.content_id, attachment) for attachment in attachments)
