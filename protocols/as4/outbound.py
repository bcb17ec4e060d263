"""What we send: user messages (compress, sign, encrypt), NRR receipts and error signals, as wire bytes."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cryptography import x509
from lxml import etree

from protocols.as4 import compression
from protocols.as4.envelope import build_envelope, messaging_markup
from protocols.as4.errors import EbmsException
from protocols.as4.mime import build_multipart
from protocols.as4.model import (
    ErrorDetail,
    MessageInfo,
    PartInfo,
    Property,
    Receipt,
    SignalMessage,
    UserMessage,
)
from protocols.as4.namespaces import COMPRESSION_GZIP, SOAP12_MEDIA_TYPE
from protocols.as4.payload import Attachment, ByteSource, InMemory, SpoolFactory
from protocols.as4.pmode import PMode
from protocols.as4.receipt import non_repudiation_markup, receipt_of, user_message_copy
from protocols.as4.security import (
    DEFAULT_SIGNATURE,
    EncryptionAlgorithms,
    SignatureAlgorithms,
    SignedReference,
    SigningIdentity,
    encrypt_attachments,
    sign_envelope,
)
from protocols.as4.security.encryption import encryption_markup
from protocols.as4.security.header import new_id
from protocols.as4.wire import signed_envelope
from protocols.as4.xml import parse_xml, serialize

if TYPE_CHECKING:
    from protocols.as4.inbound import ReceivedUserMessage

__all__ = ["OutboundMessage", "Payload", "build_error_signal", "build_receipt", "build_user_message"]

SOAP_CONTENT_TYPE = f"{SOAP12_MEDIA_TYPE}; charset=UTF-8"
_RESERVED_PART_PROPERTIES = frozenset({"MimeType", "CompressionType"})


@dataclass(frozen=True, slots=True)
class Payload:
    """An application payload before compression: becomes one MIME part and one PartInfo."""

    content_id: str
    mime_type: str
    source: ByteSource
    properties: tuple[Property, ...] = ()

    def __post_init__(self) -> None:
        if (
            not self.content_id
            or any(c in self.content_id for c in "<> \r\n")
            or self.content_id.startswith("cid:")
        ):
            raise ValueError(f"bad payload Content-ID {self.content_id!r}")
        if not self.mime_type or "\n" in self.mime_type or "\r" in self.mime_type:
            raise ValueError("a payload needs a MIME type")
        for prop in self.properties:
            if prop.name in _RESERVED_PART_PROPERTIES:
                raise ValueError(
                    f"part property {prop.name} is set by the compression feature, not by the caller"
                )


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message ready for the wire: its HTTP Content-Type and body, and what we signed (for the receipt)."""

    message_id: str
    content_type: str
    body: ByteSource
    signed_references: tuple[SignedReference, ...] = ()


def _signature_algorithms(pmode: PMode) -> SignatureAlgorithms:
    return _signature_choice(pmode.security.signature_algorithm, pmode.security.digest_algorithm)


def _encryption_algorithms(pmode: PMode) -> EncryptionAlgorithms:
    security = pmode.security
    return _encryption_choice(security.key_transport, security.mgf, security.encryption_algorithm)


# A P-Mode names a few algorithms; each choice is checked against the table once, not per message.
@functools.lru_cache(maxsize=64)
def _signature_choice(signature_method: str, digest_method: str) -> SignatureAlgorithms:
    return SignatureAlgorithms(signature_method, digest_method)


@functools.lru_cache(maxsize=64)
def _encryption_choice(key_transport: str, mgf: str, data_encryption: str) -> EncryptionAlgorithms:
    return EncryptionAlgorithms(key_transport=key_transport, mgf=mgf, data_encryption=data_encryption)


def build_user_message(
    message: UserMessage,
    payloads: Sequence[Payload],
    pmode: PMode,
    *,
    signing: SigningIdentity,
    recipient_certificate: x509.Certificate | None,
    spool: SpoolFactory,
    boundary: str,
    body_payload: bytes | None = None,
) -> OutboundMessage:
    """The UserMessage with `payloads` as SwA parts, in the order AS4 requires: compress, sign, encrypt.

    PayloadInfo is derived from `payloads` (one PartInfo per payload with MimeType, and
    CompressionType when the P-Mode compresses); any PayloadInfo already in `message` is replaced.
    `body_payload`, an XML document, goes into the SOAP Body (PartInfo without href; signed,
    neither compressed nor encrypted, as ebMS 3.0 Core §5.2.2.13 and the AS4 profile allow).
    """
    if len({p.content_id for p in payloads}) != len(payloads):
        raise ValueError("two payloads share a Content-ID")
    if pmode.security.encrypt and payloads and recipient_certificate is None:
        raise ValueError("the P-Mode encrypts but no recipient certificate was given")
    attachments: list[Attachment] = []
    parts: list[PartInfo] = []
    body_content: list[etree._Element] = []
    if body_payload is not None:
        body_content.append(parse_xml(body_payload))
        parts.append(PartInfo(None, (Property("MimeType", "application/xml"),)))
    for payload in payloads:
        properties = [Property("MimeType", payload.mime_type)]
        if pmode.compress:
            properties.append(Property("CompressionType", COMPRESSION_GZIP))
            source = compression.compress(payload.source, spool())
            attachments.append(Attachment(payload.content_id, COMPRESSION_GZIP, source))
        else:
            attachments.append(Attachment(payload.content_id, payload.mime_type, payload.source))
        parts.append(PartInfo(f"cid:{payload.content_id}", (*properties, *payload.properties)))
    message = dataclasses.replace(message, payload_info=tuple(parts))
    if pmode.security.sign and body_payload is None:
        return _signed_user_message(
            message, attachments, pmode, signing, recipient_certificate, spool, boundary
        )
    envelope = build_envelope(message, body=body_content)
    references: tuple[SignedReference, ...] = ()
    if pmode.security.sign:
        references = sign_envelope(
            envelope,
            attachments,
            signing,
            algorithms=_signature_algorithms(pmode),
            key_reference=pmode.security.signature_key_reference,
        )
    wire: Sequence[Attachment] = attachments
    if pmode.security.encrypt and attachments:
        assert recipient_certificate is not None
        wire = encrypt_attachments(
            envelope,
            attachments,
            recipient_certificate,
            algorithms=_encryption_algorithms(pmode),
            key_reference=pmode.security.encryption_key_reference,
            spool=spool,
        )
    root = serialize(envelope)
    if not wire:
        return OutboundMessage(message.message_id, SOAP_CONTENT_TYPE, InMemory(root), references)
    content_type, body = build_multipart(
        root, wire, boundary=boundary, root_content_id=f"root.{boundary}@aswnode"
    )
    return OutboundMessage(message.message_id, content_type, body, references)


def _signed_user_message(
    message: UserMessage,
    attachments: Sequence[Attachment],
    pmode: PMode,
    signing: SigningIdentity,
    recipient_certificate: x509.Certificate | None,
    spool: SpoolFactory,
    boundary: str,
) -> OutboundMessage:
    """build_user_message written as text (`wire.signed_envelope`): signed, encrypted when asked."""
    messaging_id = new_id("id-messaging")
    wire: Sequence[Attachment] = attachments
    encryption = ""
    if pmode.security.encrypt and attachments:
        assert recipient_certificate is not None
        encryption, wire = encryption_markup(
            attachments,
            recipient_certificate,
            algorithms=_encryption_algorithms(pmode),
            key_reference=pmode.security.encryption_key_reference,
            spool=spool,
        )
    root, references = signed_envelope(
        messaging_markup(message, messaging_id=messaging_id),
        messaging_id,
        attachments,
        signing,
        algorithms=_signature_algorithms(pmode),
        key_reference=pmode.security.signature_key_reference,
        encryption=encryption,
    )
    if not wire:
        return OutboundMessage(message.message_id, SOAP_CONTENT_TYPE, InMemory(root), references)
    content_type, body = build_multipart(
        root, wire, boundary=boundary, root_content_id=f"root.{boundary}@aswnode"
    )
    return OutboundMessage(message.message_id, content_type, body, references)


def build_receipt(
    received: ReceivedUserMessage, *, signing: SigningIdentity, message_id: str, now: datetime
) -> OutboundMessage:
    """The signed receipt for a user message we accepted (soap+xml, no attachments).

    For a signed message it is an NRR receipt repeating every ds:Reference we verified;
    for an unsigned one (only when a P-Mode allows it) it carries a copy of the eb:UserMessage.
    """
    info = MessageInfo(message_id, now, ref_to_message_id=received.user_message.message_id)
    if received.signature is not None:
        messaging_id = new_id("id-messaging")
        signal = SignalMessage(info, receipt=receipt_of(received.signature.references))
        nri = non_repudiation_markup(received.envelope.root, received.signature)
        root, references = signed_envelope(
            messaging_markup(signal, messaging_id=messaging_id, receipt_content=nri),
            messaging_id,
            (),
            signing,
            algorithms=DEFAULT_SIGNATURE,
            key_reference="bst",
        )
        return OutboundMessage(message_id, SOAP_CONTENT_TYPE, InMemory(root), references)
    content = user_message_copy(received.envelope.root)
    envelope = build_envelope(SignalMessage(info, receipt=Receipt()), receipt_content=(content,))
    references = sign_envelope(envelope, (), signing)
    return OutboundMessage(message_id, SOAP_CONTENT_TYPE, InMemory(serialize(envelope)), references)


def build_error_signal(
    errors: Sequence[EbmsException], *, signing: SigningIdentity | None, message_id: str, now: datetime
) -> OutboundMessage:
    """An ebMS3 Error signal (§6.2) with one eb:Error per exception; signed when an identity is given.

    RefToMessageId is set when all errors refer to the same message.
    """
    if not errors:
        raise ValueError("an error signal needs at least one error")
    refs = {e.ref_to_message_id for e in errors}
    ref = next(iter(refs)) if len(refs) == 1 else None
    details = tuple(
        ErrorDetail(e.error, detail=e.detail, ref_to_message_id=e.ref_to_message_id, origin=_origin(e))
        for e in errors
    )
    envelope = build_envelope(
        SignalMessage(MessageInfo(message_id, now, ref_to_message_id=ref), errors=details)
    )
    references: tuple[SignedReference, ...] = ()
    if signing is not None:
        references = sign_envelope(envelope, (), signing)
    return OutboundMessage(message_id, SOAP_CONTENT_TYPE, InMemory(serialize(envelope)), references)


def _origin(error: EbmsException) -> str:
    """eb:Error/@origin (ebMS 3.0 Core §6.2.4): the module that found the problem."""
    code = error.error.code
    if code.startswith("EBMS:01"):
        return "security"
    if code.startswith("EBMS:02"):
        return "reliability"
    return "ebMS"
