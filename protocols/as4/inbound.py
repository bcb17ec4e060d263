"""What we receive: read an AS4 request in stages (envelope, then keys), and read the answer to what we sent.

The inbound order is declared here once (after phase4's AS4IncomingHandler):
1. size limits, MIME, hardened XML, the SOAP 1.2 frame and eb:Messaging (`read_envelope`);
   exactly one UserMessage or SignalMessage, every PartInfo cid: present.
   The node then finds the partner by From/PartyId and chooses keys.
2. decrypt (EBMS:0102), verify the signature by the partner's certificate (EBMS:0101),
   decompress within a cap (EBMS:0303) (`open_user_message`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from lxml import etree

from protocols.as4 import compression
from protocols.as4.envelope import Messaging, find_body, find_header, find_messaging, parse_messaging
from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.limits import Limits
from protocols.as4.mime import parse_content_type, parse_multipart
from protocols.as4.model import ErrorDetail, PartInfo, Property, SignalMessage, UserMessage
from protocols.as4.namespaces import NS_DS, NS_S12, NS_WSSE, SOAP12_MEDIA_TYPE
from protocols.as4.outbound import OutboundMessage
from protocols.as4.payload import Attachment, ByteSource, InMemory, SpoolFactory, read_all
from protocols.as4.receipt import check_receipt
from protocols.as4.security import (
    SignedReference,
    SigningIdentity,
    VerifiedSignature,
    decrypt_attachments,
    verify_envelope,
)
from protocols.as4.security.header import id_index
from protocols.as4.xml import parse_xml

__all__ = [
    "Envelope",
    "ErrorOutcome",
    "Limits",
    "ReceiptOutcome",
    "ReceivedPayload",
    "ReceivedUserMessage",
    "open_user_message",
    "read_envelope",
    "read_response",
    "verify_pushed_signal",
]


@dataclass(frozen=True, slots=True)
class Envelope:
    """Stage 1 of an inbound message: parsed and checked, nothing decrypted or verified yet."""

    root: etree._Element
    message: UserMessage | SignalMessage
    attachments: tuple[Attachment, ...]

    @property
    def message_id(self) -> str:
        return self.message.message_info.message_id

    @property
    def user_message(self) -> UserMessage | None:
        return self.message if isinstance(self.message, UserMessage) else None

    @property
    def signal_message(self) -> SignalMessage | None:
        return self.message if isinstance(self.message, SignalMessage) else None


@dataclass(frozen=True, slots=True)
class ReceivedPayload:
    """One payload as the application sent it: decrypted, verified, decompressed."""

    part_info: PartInfo
    content_id: str | None
    mime_type: str
    source: ByteSource

    @property
    def properties(self) -> tuple[Property, ...]:
        return self.part_info.part_properties


@dataclass(frozen=True, slots=True)
class ReceivedUserMessage:
    envelope: Envelope
    user_message: UserMessage
    payloads: tuple[ReceivedPayload, ...]
    signature: VerifiedSignature | None

    @property
    def signed_references(self) -> tuple[SignedReference, ...]:
        return self.signature.references if self.signature is not None else ()


@dataclass(frozen=True, slots=True)
class ReceiptOutcome:
    """A receipt that verified: signed by the partner, for our message, repeating our digests."""

    signal: SignalMessage
    signature: VerifiedSignature


@dataclass(frozen=True, slots=True)
class ErrorOutcome:
    """The partner (or something on the way) refused our message with these ebMS errors.

    `authenticated` is true only when the signal's signature verified against the partner's
    certificates and every error names the message we sent; an unsigned or unverifiable error
    and a bare SOAP Fault (which a proxy can produce) are not: the node must not fail a message
    on their word alone.
    """

    signal: SignalMessage | None
    errors: tuple[ErrorDetail, ...]
    authenticated: bool = False
    signature: VerifiedSignature | None = None

    def __post_init__(self) -> None:
        if self.authenticated and self.signature is None:
            raise ValueError("an authenticated ErrorOutcome needs the verified signature")


# ---------------------------------------------------------------------------------- stage 1


def read_envelope(body: ByteSource, content_type: str, *, limits: Limits = Limits()) -> Envelope:
    """MIME, hardened XML and eb:Messaging of an inbound body: exactly one message, all parts present."""
    if body.size > limits.max_message_bytes:
        raise EbmsException(EbmsError.OTHER, f"message of {body.size} bytes is over the limit")
    media_type = parse_content_type(content_type or "").media_type
    attachments: tuple[Attachment, ...] = ()
    if media_type == "multipart/related":
        root_bytes, attachments = parse_multipart(body, content_type, limits=limits)
    elif media_type in (SOAP12_MEDIA_TYPE, "text/xml", "application/xml"):
        if body.size > limits.max_xml_bytes:
            raise EbmsException(EbmsError.OTHER, "the SOAP envelope is over the XML size limit")
        root_bytes = read_all(body, limits.max_xml_bytes)
    else:
        raise EbmsException(EbmsError.MIME_INCONSISTENCY, f"content type {media_type} is not SOAP 1.2 or SwA")
    root = parse_xml(
        root_bytes,
        max_bytes=limits.max_xml_bytes,
        max_depth=limits.max_xml_depth,
        max_attributes=limits.max_xml_attributes,
        max_namespace_prefixes=limits.max_xml_namespace_prefixes,
        max_nodes=limits.max_xml_nodes,
    )
    messaging_element = find_messaging(root)
    header = find_header(root)
    if header is not None and _HEADER_NODES(header) > limits.max_header_nodes:
        raise EbmsException(
            EbmsError.INVALID_HEADER,
            f"the SOAP Header has more than {limits.max_header_nodes} elements and attributes",
        )
    messaging = parse_messaging(messaging_element)
    message = _exactly_one(messaging)
    ref = message.message_info.message_id
    if isinstance(message, UserMessage):
        try:
            _check_parts(message, attachments)
        except EbmsException as exc:
            raise exc.with_ref(ref) from None
    return Envelope(root, message, attachments)


_HEADER_NODES = etree.XPath("count(descendant-or-self::*) + count(descendant-or-self::*/@*)")


def _exactly_one(messaging: Messaging) -> UserMessage | SignalMessage:
    found: list[UserMessage | SignalMessage] = [*messaging.user_messages, *messaging.signal_messages]
    if not found:
        raise EbmsException(EbmsError.INVALID_HEADER, "eb:Messaging holds no UserMessage or SignalMessage")
    if len(found) > 1:
        # AS4 profile §2.1.1: no bundling; phase4 answers two messages with ValueInconsistent.
        raise EbmsException(
            EbmsError.VALUE_INCONSISTENT,
            f"eb:Messaging holds {len(found)} messages; exactly one is allowed",
            ref_to_message_id=found[0].message_info.message_id,
        )
    return found[0]


def _check_parts(message: UserMessage, attachments: Sequence[Attachment]) -> None:
    present = {a.content_id for a in attachments}
    wanted = {p.content_id for p in message.payload_info if p.content_id is not None}
    missing = sorted(wanted - present)
    if missing:
        raise EbmsException(EbmsError.EXTERNAL_PAYLOAD_ERROR, f"no MIME part for cid:{missing[0][:80]}")
    unreferenced = sorted(present - wanted)
    if unreferenced:
        raise EbmsException(
            EbmsError.VALUE_INCONSISTENT, f"MIME part {unreferenced[0][:80]} is not named by any PartInfo"
        )


# ---------------------------------------------------------------------------------- stage 2


def open_user_message(
    envelope: Envelope,
    *,
    sender_certificates: Sequence[x509.Certificate],
    own: SigningIdentity,
    require_encryption: bool,
    limits: Limits = Limits(),
    spool: SpoolFactory,
) -> ReceivedUserMessage:
    """Decrypt, verify (the signer must be one of `sender_certificates`), decompress."""
    message = envelope.user_message
    if message is None:
        raise EbmsException(EbmsError.VALUE_INCONSISTENT, "expected a UserMessage, got a signal")
    ref = message.message_id
    try:
        return _open(envelope, message, sender_certificates, own, require_encryption, limits, spool)
    except EbmsException as exc:
        raise exc.with_ref(ref) from None


def _has_signature(root: etree._Element) -> bool:
    header = root.find(f"{{{NS_S12}}}Header")
    if header is None:
        return False
    return any(s.find(f"{{{NS_DS}}}Signature") is not None for s in header.findall(f"{{{NS_WSSE}}}Security"))


def _open(
    envelope: Envelope,
    message: UserMessage,
    sender_certificates: Sequence[x509.Certificate],
    own: SigningIdentity,
    require_encryption: bool,
    limits: Limits,
    spool: SpoolFactory,
) -> ReceivedUserMessage:
    root = envelope.root
    if require_encryption:
        _no_body_payload(message)
    ids = id_index(root)  # decryption leaves the envelope as it is: one index serves both steps
    attachments = decrypt_attachments(root, envelope.attachments, own, spool=spool, ids=ids)
    if require_encryption:
        _all_decrypted(envelope.attachments, attachments)
    if not _has_signature(root):
        raise EbmsException(EbmsError.POLICY_NONCOMPLIANCE, "the message is not signed")
    required = [p.content_id for p in message.payload_info if p.content_id is not None]
    signature = verify_envelope(
        root, attachments, trusted=sender_certificates, required_attachments=required, ids=ids
    )
    by_cid = {a.content_id: a for a in attachments}
    payloads = []
    for part in message.payload_info:
        if part.content_id is None:
            payloads.append(_body_payload(root, part))
            continue
        attachment = by_cid[part.content_id]
        source = attachment.source
        if part.compressed:
            source = compression.decompress(source, spool(), max_bytes=limits.max_decompressed_bytes)
            mime_type = part.mime_type or "application/octet-stream"
        else:
            mime_type = part.mime_type or attachment.mime_type
        payloads.append(ReceivedPayload(part, part.content_id, mime_type, source))
    return ReceivedUserMessage(envelope, message, tuple(payloads), signature)


def _no_body_payload(message: UserMessage) -> None:
    # eDelivery AS4 carries payloads as attachments; a payload in the SOAP Body is never encrypted.
    for part in message.payload_info:
        if part.content_id is None:
            raise EbmsException(
                EbmsError.POLICY_NONCOMPLIANCE,
                "a payload in the SOAP Body cannot be encrypted; encryption is required",
            )


def _all_decrypted(received: Sequence[Attachment], decrypted: Sequence[Attachment]) -> None:
    """Every attachment must be one decrypt_attachments decrypted (it returns the others as they
    came); what the envelope merely mentions (a decoy CipherReference) proves nothing."""
    for before, after in zip(received, decrypted, strict=True):
        if after is before:
            raise EbmsException(
                EbmsError.POLICY_NONCOMPLIANCE, f"payload {before.content_id[:80]} is not encrypted"
            )


def _body_payload(root: etree._Element, part: PartInfo) -> ReceivedPayload:
    body = find_body(root)
    children = [c for c in body if isinstance(c.tag, str)] if body is not None else []
    if len(children) != 1:
        raise EbmsException(
            EbmsError.EXTERNAL_PAYLOAD_ERROR, "the PartInfo names the SOAP Body, which holds no payload"
        )
    data = etree.tostring(children[0], method="c14n", exclusive=True)
    return ReceivedPayload(part, None, part.mime_type or "application/xml", InMemory(data))


# ---------------------------------------------------------------------------------- responses


def read_response(
    body: ByteSource,
    content_type: str,
    *,
    sent: OutboundMessage,
    partner_certificates: Sequence[x509.Certificate],
    limits: Limits = Limits(),
) -> ReceiptOutcome | ErrorOutcome:
    """The partner's synchronous answer to `sent`: a verified receipt, or its errors.

    Anything else (no receipt, a receipt that does not verify, refers to another message or
    does not repeat exactly our signed digests) raises EBMS:0302 (EBMS:0301 for an empty answer).
    """
    ref = sent.message_id
    if body.size == 0:
        raise EbmsException(EbmsError.MISSING_RECEIPT, "the response is empty", ref_to_message_id=ref)
    try:
        envelope = read_envelope(body, content_type, limits=limits)
    except EbmsException as exc:
        fault = _soap_fault(body, content_type, limits)
        if fault is not None:
            # Unsigned and bound to nothing: anything between us and the partner can say this.
            return ErrorOutcome(None, (ErrorDetail(EbmsError.OTHER, detail=fault, ref_to_message_id=ref),))
        raise EbmsException(
            EbmsError.INVALID_RECEIPT, f"unreadable response: {exc}", ref_to_message_id=ref
        ) from None
    signal = envelope.signal_message
    if signal is None:
        raise EbmsException(
            EbmsError.INVALID_RECEIPT, "the response is a UserMessage, not a signal", ref_to_message_id=ref
        )
    if signal.errors:
        return _error_outcome(envelope, signal, ref, partner_certificates)
    try:
        signature = verify_envelope(
            envelope.root, envelope.attachments, trusted=partner_certificates, required_attachments=()
        )
    except EbmsException as exc:
        raise EbmsException(
            EbmsError.INVALID_RECEIPT, f"receipt signature: {exc.detail}", ref_to_message_id=ref
        ) from None
    check_receipt(signal, sent_message_id=ref, signed=sent.signed_references)
    return ReceiptOutcome(signal, signature)


def _error_outcome(
    envelope: Envelope, signal: SignalMessage, sent_id: str, partner_certificates: Sequence[x509.Certificate]
) -> ErrorOutcome:
    """The errors of `signal`, authenticated only when signed by the partner and all about `sent_id`."""
    named = [e.ref_to_message_id or signal.message_info.ref_to_message_id for e in signal.errors]
    if signal.message_info.ref_to_message_id is not None:
        named.append(signal.message_info.ref_to_message_id)
    other = next((r for r in named if r is not None and r != sent_id), None)
    if other is not None:
        raise EbmsException(
            EbmsError.INVALID_RECEIPT,
            f"the error signal refers to {other[:80]!r}, not to the message we sent",
            ref_to_message_id=sent_id,
        )
    signature = None
    if _has_signature(envelope.root):
        try:
            signature = verify_envelope(
                envelope.root, envelope.attachments, trusted=partner_certificates, required_attachments=()
            )
        except EbmsException:
            signature = None
    authenticated = signature is not None and all(r == sent_id for r in named)
    return ErrorOutcome(signal, signal.errors, authenticated=authenticated, signature=signature)


def verify_pushed_signal(
    envelope: Envelope, *, partner_certificates: Sequence[x509.Certificate]
) -> SignalMessage:
    """The signal of a request the partner pushed to us (a late receipt or error), once its
    signature verified against `partner_certificates`; EBMS:0101 when unsigned or signed by
    anyone else, EBMS:0003 when the request holds a UserMessage."""
    signal = envelope.signal_message
    if signal is None:
        raise EbmsException(
            EbmsError.VALUE_INCONSISTENT,
            "expected a signal, got a UserMessage",
            ref_to_message_id=envelope.message_id,
        )
    ref = signal.message_info.message_id
    if not _has_signature(envelope.root):
        raise EbmsException(
            EbmsError.FAILED_AUTHENTICATION, "the signal is not signed", ref_to_message_id=ref
        )
    try:
        verify_envelope(
            envelope.root, envelope.attachments, trusted=partner_certificates, required_attachments=()
        )
    except EbmsException as exc:
        raise exc.with_ref(ref) from None
    return signal


def _soap_fault(body: ByteSource, content_type: str, limits: Limits) -> str | None:
    """The Reason text of a bare SOAP 1.2 Fault (no eb:Messaging), if that is what the body is."""
    try:
        if parse_content_type(content_type or "").media_type != SOAP12_MEDIA_TYPE:
            return None
        root = parse_xml(read_all(body, limits.max_xml_bytes), max_bytes=limits.max_xml_bytes)
    except (EbmsException, ValueError):
        return None
    fault = root.find(f"{{{NS_S12}}}Body/{{{NS_S12}}}Fault")
    if fault is None:
        return None
    reason = " ".join(t.strip() for t in fault.itertext() if t.strip())
    return f"SOAP Fault: {reason[:500]}"
