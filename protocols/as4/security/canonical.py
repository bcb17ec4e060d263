"""Canonical bytes and digests: exclusive c14n of elements, and the SwA attachment content transform.

WSS SwA profile 1.1 §5.4.2 (as WSS4J's AttachmentContentSignatureTransform and the Java
peer apply it): content of an XML type (text/xml, application/xml, */*+xml) is exclusive-c14n'd
without comments, other text/* content gets CRLF line endings, everything else is digested as
it is. Binary and text attachments are digested streaming; an XML attachment must be parsed, so
it is read whole up to `XML_ATTACHMENT_LIMIT`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator, Sequence

from lxml import etree

from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.payload import Attachment, read_all
from protocols.as4.xml import parse_xml

__all__ = [
    "XML_ATTACHMENT_LIMIT",
    "attachment_content",
    "attachment_digest",
    "content_kind",
    "exc_c14n",
]

XML_ATTACHMENT_LIMIT = 64 * 1024 * 1024
_XML_ATTACHMENT_DEPTH = 512

_XML_TYPE = re.compile(r"^(text/xml|application/xml|(application|image)/[^;]*\+xml)\b")
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def exc_c14n(element: etree._Element, inclusive_prefixes: Sequence[str] = ()) -> bytes:
    """Exclusive XML canonicalisation 1.0 without comments of the element in its document.

    A document c14n cannot serialise (e.g. a relative namespace URI) is a security failure (EBMS:0101)."""
    try:
        canonical: bytes = etree.tostring(
            element,
            method="c14n",
            exclusive=True,
            with_comments=False,
            inclusive_ns_prefixes=list(inclusive_prefixes) or None,
        )
    except (etree.C14NError, ValueError) as exc:
        raise EbmsException(EbmsError.FAILED_AUTHENTICATION, f"cannot canonicalise: {exc}"[:300]) from None
    return canonical


def content_kind(mime_type: str) -> str:
    """'xml', 'text' or 'binary': how the SwA content transform treats a part of this type."""
    media = mime_type.strip().lower()
    if _XML_TYPE.match(media):
        return "xml"
    if media.startswith("text/"):
        return "text"
    return "binary"


def _crlf(chunks: Iterator[bytes]) -> Iterator[bytes]:
    held = b""
    for chunk in chunks:
        data = held + chunk
        # A CR at the end of a chunk may be the first half of a CRLF split across chunks.
        held = b"\r" if data.endswith(b"\r") else b""
        if held:
            data = data[:-1]
        yield _LINE_BREAK.sub(b"\r\n", data)
    if held:
        yield b"\r\n"


def attachment_content(attachment: Attachment, error: EbmsError) -> Iterator[bytes]:
    """The bytes the Attachment-Content-Signature-Transform hands to the digest."""
    kind = content_kind(attachment.mime_type)
    if kind == "binary":
        yield from attachment.source.chunks()
    elif kind == "text":
        yield from _crlf(attachment.source.chunks())
    else:
        try:
            data = read_all(attachment.source, XML_ATTACHMENT_LIMIT)
        except ValueError as too_big:
            raise EbmsException(error, f"XML attachment {attachment.content_id}: {too_big}") from None
        try:
            root = parse_xml(data, max_bytes=XML_ATTACHMENT_LIMIT, max_depth=_XML_ATTACHMENT_DEPTH)
        except EbmsException as bad:
            raise EbmsException(
                error, f"attachment {attachment.content_id} is typed {attachment.mime_type}: {bad.detail}"
            ) from None
        yield etree.tostring(root.getroottree(), method="c14n", exclusive=True, with_comments=False)


def attachment_digest(attachment: Attachment, digest: str, error: EbmsError) -> str:
    """Base64 digest (hashlib name `digest`) of the attachment's transformed content."""
    hasher = hashlib.new(digest)
    for block in attachment_content(attachment, error):
        hasher.update(block)
    return base64.b64encode(hasher.digest()).decode("ascii")
