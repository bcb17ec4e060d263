"""The SwA Attachment-Content-Signature-Transform by MIME type, and exclusive c14n of elements."""

from __future__ import annotations

import base64
import hashlib

import pytest
from lxml import etree
from security_support import Repeating

from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.payload import CHUNK, Attachment, InMemory
from protocols.as4.security.canonical import attachment_content, attachment_digest, content_kind, exc_c14n


class Chunked:
    """A source that hands out its bytes in the given pieces (to cut a CRLF in two)."""

    def __init__(self, *pieces: bytes) -> None:
        self.pieces = pieces

    @property
    def size(self) -> int:
        return sum(map(len, self.pieces))

    def chunks(self, chunk_size: int = CHUNK):
        yield from self.pieces


def transformed(mime_type: str, *pieces: bytes) -> bytes:
    attachment = Attachment("p@x", mime_type, Chunked(*pieces))
    return b"".join(attachment_content(attachment, EbmsError.FAILED_AUTHENTICATION))


@pytest.mark.parametrize(
    ("mime_type", "kind"),
    [
        ("application/xml", "xml"),
        ("text/xml; charset=UTF-8", "xml"),
        ("Application/XML", "xml"),
        ("application/soap+xml", "xml"),
        ("image/svg+xml", "xml"),
        ("application/vnd.example+xml; charset=utf-8", "xml"),
        ("text/plain", "text"),
        ("text/csv; charset=utf-8", "text"),
        ("application/gzip", "binary"),
        ("application/octet-stream", "binary"),
        ("application/pdf", "binary"),
        ("image/jpeg", "binary"),
        ("application/json", "binary"),
    ],
)
def test_content_kind_follows_the_mime_type(mime_type, kind):
    assert content_kind(mime_type) == kind


def test_binary_content_is_digested_as_it_is():
    data = b"\x00\r\n\n\rabc"
    assert transformed("application/octet-stream", data[:3], data[3:]) == data


@pytest.mark.parametrize(
    "pieces",
    [
        (b"a\nb\r\nc\rd",),
        (b"a\nb\r", b"\nc\rd"),
        (b"a\nb\r", b"", b"\nc\r", b"d"),
        (b"a", b"\n", b"b", b"\r", b"\n", b"c", b"\r", b"d"),
    ],
)
def test_text_line_endings_become_crlf_wherever_the_chunks_split(pieces):
    assert transformed("text/plain", *pieces) == b"a\r\nb\r\nc\r\nd"


def test_text_ending_in_a_lone_cr_ends_in_crlf():
    assert transformed("text/plain", b"x\r") == b"x\r\n"
    assert transformed("text/plain", b"x\r\r\n\n") == b"x\r\n\r\n\r\n"


def test_xml_content_is_exclusive_canonical():
    raw = (
        b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<!-- gone -->\n'
        b'<r xmlns="urn:r" xmlns:u="urn:unused" b="2"  a="1"><e/><![CDATA[<x>]]>\xe9</r>\n'
    )
    assert (
        transformed("application/xml", raw) == ('<r xmlns="urn:r" a="1" b="2"><e></e>&lt;x&gt;é</r>').encode()
    )


def test_xml_attachment_that_is_not_well_formed_fails_with_the_given_code():
    with pytest.raises(EbmsException) as caught:
        transformed("application/xml", b"<r><unclosed></r>")
    assert caught.value.error is EbmsError.FAILED_AUTHENTICATION
    assert "p@x" in caught.value.detail


def test_xml_attachment_with_a_doctype_is_refused():
    with pytest.raises(EbmsException, match="document type"):
        transformed("application/xml", b'<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>')


def test_digest_is_base64_of_the_transformed_content():
    attachment = Attachment("p@x", "text/plain", InMemory(b"a\nb"))
    expected = base64.b64encode(hashlib.sha256(b"a\r\nb").digest()).decode()
    assert attachment_digest(attachment, "sha256", EbmsError.FAILED_AUTHENTICATION) == expected


def test_binary_digest_streams_a_large_source():
    attachment = Attachment("big@x", "application/octet-stream", Repeating(b"\x01" * 65536, 64))
    expected = hashlib.sha512(b"\x01" * 65536 * 64).digest()
    assert (
        base64.b64decode(attachment_digest(attachment, "sha512", EbmsError.FAILED_AUTHENTICATION)) == expected
    )


def test_exc_c14n_of_an_element_carries_only_the_namespaces_it_uses():
    root = etree.fromstring(b'<a:r xmlns:a="urn:a" xmlns:b="urn:b" xmlns:c="urn:c"><b:e  z="1"/></a:r>')
    element = root[0]
    assert exc_c14n(element) == b'<b:e xmlns:b="urn:b" z="1"></b:e>'
    assert exc_c14n(element, ["c"]) == b'<b:e xmlns:b="urn:b" xmlns:c="urn:c" z="1"></b:e>'
