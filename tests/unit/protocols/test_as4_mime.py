"""SwA multipart/related: streaming build, a parse that slices the body, binary safety, and refusals."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.limits import Limits
from protocols.as4.mime import build_multipart, parse_content_type, parse_multipart
from protocols.as4.payload import Attachment, FileSlice, InMemory, MemorySlice, read_all

ROOT = b'<?xml version="1.0"?><S12:Envelope xmlns:S12="http://www.w3.org/2003/05/soap-envelope"/>'
RELATED = "multipart/related; boundary=b"
NASTY = b"\r\n--not-the-boundary\r\n\r\n--\r\n" + bytes(range(256)) * 4


class Dribble:
    """A source handing out `step` bytes at a time: delimiters split across chunks must be found."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step = data, step

    @property
    def size(self) -> int:
        return len(self.data)

    def chunks(self, chunk_size: int = 65536) -> Iterator[bytes]:
        for start in range(0, len(self.data), self.step):
            yield self.data[start : start + self.step]


def _build(*attachments: Attachment, boundary: str = "MIME_b0und4ry") -> tuple[str, bytes]:
    content_type, body = build_multipart(ROOT, attachments, boundary=boundary)
    return content_type, read_all(body, 1 << 30)


def test_built_message_parses_back_with_binary_parts_intact() -> None:
    binary = os.urandom(100_000) + NASTY
    content_type, raw = _build(
        Attachment("bin@x", "application/octet-stream", InMemory(binary)),
        Attachment("txt@x", "text/plain", InMemory(b"")),
    )
    assert parse_content_type(content_type).parameter("type") == "application/soap+xml"
    root, parts = parse_multipart(InMemory(raw), content_type)
    assert root == ROOT
    assert [(p.content_id, p.mime_type) for p in parts] == [
        ("bin@x", "application/octet-stream"),
        ("txt@x", "text/plain"),
    ]
    assert read_all(parts[0].source, 1 << 20) == binary
    assert parts[1].source.size == 0


@pytest.mark.parametrize("step", [1, 2, 5, 17, 4096])
def test_delimiters_split_across_chunks_are_found(step: int) -> None:
    payload = os.urandom(3000) + NASTY
    content_type, raw = _build(Attachment("p@x", "application/octet-stream", InMemory(payload)))
    root, parts = parse_multipart(Dribble(raw, step), content_type)
    assert root == ROOT
    assert read_all(parts[0].source, 1 << 20) == payload


def test_parts_of_a_file_body_are_slices_of_that_file_not_copies() -> None:
    payload = os.urandom(500_000)
    content_type, raw = _build(Attachment("p@x", "application/octet-stream", InMemory(payload)))
    with tempfile.TemporaryFile() as handle:
        handle.write(raw)
        _root, parts = parse_multipart(FileSlice(handle, 0, len(raw)), content_type)
        assert isinstance(parts[0].source, FileSlice)
        assert read_all(parts[0].source, 1 << 20) == payload


def test_parts_of_an_in_memory_body_are_memory_slices() -> None:
    content_type, raw = _build(Attachment("p@x", "application/octet-stream", InMemory(b"abc")))
    _root, parts = parse_multipart(InMemory(raw), content_type)
    assert isinstance(parts[0].source, MemorySlice)


def test_start_parameter_picks_the_root_part() -> None:
    raw = (
        b"--b\r\nContent-Type: application/octet-stream\r\nContent-ID: <att@x>\r\n\r\nDATA\r\n"
        b"--b\r\nContent-Type: application/soap+xml\r\nContent-ID: <root@x>\r\n\r\n" + ROOT + b"\r\n--b--\r\n"
    )
    root, parts = parse_multipart(InMemory(raw), 'multipart/related; boundary=b; start="<root@x>"')
    assert root == ROOT
    assert [p.content_id for p in parts] == ["att@x"]


def test_preamble_and_base64_parts_are_accepted() -> None:
    raw = (
        b"\xef\xbb\xbf\r\n--b\r\nContent-Type: application/soap+xml\r\n\r\n" + ROOT + b"\r\n"
        b"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\nContent-ID: p@x\r\n\r\n"
        b"aGVs\r\nbG8=\r\n--b--"
    )
    _root, parts = parse_multipart(InMemory(raw), "multipart/related; boundary=b")
    assert read_all(parts[0].source, 100) == b"hello"


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"--b\r\nContent-Type: application/soap+xml\r\n\r\n<a/>\r\n", "multipart/related; boundary=b"),
        (b"--b\r\nContent-Type: application/soap+xml\r\n\r\n<a/>\r\n--b--", "multipart/mixed; boundary=b"),
        (b"--b\r\nContent-Type: application/soap+xml\r\n\r\n<a/>\r\n--b--", "multipart/related"),
        (b"--b\r\nContent-Type: image/png\r\n\r\n<a/>\r\n--b--", "multipart/related; boundary=b"),
        (b"--b\r\nContent-Type: application/soap+xml\r\n\r\n<a/>\r\n--b\r\n\r\nx\r\n--b--", RELATED),
        (
            b"--b\r\nContent-Type: application/soap+xml\r\n\r\n<a/>\r\n--b\r\nContent-ID: <p>\r\n\r\nx\r\n"
            b"--b\r\nContent-ID: <p>\r\n\r\ny\r\n--b--",
            "multipart/related; boundary=b",
        ),
        (
            b"--b\r\nContent-Type: application/soap+xml\r\n\r\n<a/>\r\n--b\r\nContent-ID: <p>\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\nx\r\n--b--",
            "multipart/related; boundary=b",
        ),
        (
            b"--b\r\nContent-Type: application/soap+xml\r\n\r\n<a/>\r\n--b\r\nContent-ID: <p>\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n!!!\r\n--b--",
            "multipart/related; boundary=b",
        ),
        (b"--b\r\nContent-Type: application/soap+xml\r\n" + b"X: y\r\n" * 5000, RELATED),
    ],
    ids=["no-close", "not-related", "no-boundary", "root-not-soap", "no-content-id", "duplicate-cid",
         "quoted-printable", "bad-base64", "endless-headers"],
)  # fmt: skip
def test_inconsistent_mime_is_mime_inconsistency(raw: bytes, content_type: str) -> None:
    with pytest.raises(EbmsException) as refused:
        parse_multipart(InMemory(raw), content_type, limits=Limits(max_part_header_bytes=1024))
    assert refused.value.error is EbmsError.MIME_INCONSISTENCY


def test_too_many_parts_are_refused() -> None:
    parts = b"".join(b"--b\r\nContent-ID: <p%d>\r\n\r\nx\r\n" % i for i in range(10))
    raw = b"--b\r\nContent-Type: application/soap+xml\r\n\r\n<a/>\r\n" + parts + b"--b--"
    with pytest.raises(EbmsException, match="more than 5"):
        parse_multipart(InMemory(raw), "multipart/related; boundary=b", limits=Limits(max_parts=5))


def test_bad_boundary_is_refused_when_building() -> None:
    with pytest.raises(ValueError):
        build_multipart(ROOT, (), boundary="x" * 71)


@pytest.mark.parametrize("mime_type", ["text/plain\r\nX-Injected: 1", "text/plain\nX: 1", "text/plain\0"])
def test_a_mime_type_carrying_a_line_break_cannot_add_a_header(mime_type: str) -> None:
    with pytest.raises(ValueError, match="line break or NUL"):
        _build(Attachment("a@x", mime_type, InMemory(b"x")))


def test_a_document_c14n_cannot_serialise_is_an_authentication_failure() -> None:
    from lxml import etree

    from protocols.as4.security.canonical import exc_c14n

    with pytest.raises(EbmsException) as refused:
        exc_c14n(etree.fromstring(b'<a xmlns:p="relative"><p:b/></a>'))
    assert refused.value.error is EbmsError.FAILED_AUTHENTICATION
