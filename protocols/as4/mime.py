"""MIME multipart/related for SOAP with Attachments: streaming build, and a parse that never copies."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.limits import Limits
from protocols.as4.namespaces import SOAP12_MEDIA_TYPE
from protocols.as4.payload import Attachment, ByteSource, Concatenation, InMemory, read_all, slice_of

__all__ = ["ContentType", "build_multipart", "parse_content_type", "parse_multipart"]

_BOUNDARY = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$")
_MIME = EbmsError.MIME_INCONSISTENCY
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_MEDIA_TYPE = re.compile(rf"^{_TOKEN}/{_TOKEN}$")
_PARAMETER = re.compile(rf'\s*;\s*({_TOKEN})\s*=\s*("(?:[^"\\]|\\.)*"|{_TOKEN})\s*')


@dataclass(frozen=True, slots=True)
class ContentType:
    media_type: str
    parameters: tuple[tuple[str, str], ...]

    def parameter(self, name: str) -> str | None:
        return next((v for k, v in self.parameters if k == name.lower()), None)


def parse_content_type(value: str) -> ContentType:
    """An RFC 2045 §5.1 Content-Type value: lower-case media type and parameters (quotes removed)."""
    media, _, rest = value.partition(";")
    media_type = media.strip().lower()
    if not _MEDIA_TYPE.match(media_type):
        raise EbmsException(_MIME, "unparseable Content-Type")
    params: list[tuple[str, str]] = []
    rest = ";" + rest if rest else ""
    position = 0
    while position < len(rest):
        match = _PARAMETER.match(rest, position)
        if match is None:
            if rest[position:].strip(" \t\r\n;"):
                raise EbmsException(_MIME, "unparseable Content-Type parameters")
            break
        name, raw = match.group(1).lower(), match.group(2)
        if raw.startswith('"'):
            raw = raw[1:-1]
            if "\\" in raw:
                raw = re.sub(r"\\(.)", r"\1", raw)
        params.append((name, raw))
        position = match.end()
    return ContentType(media_type, tuple(params))


# ---------------------------------------------------------------------------------- building


def build_multipart(
    root: bytes,
    attachments: Sequence[Attachment],
    *,
    boundary: str,
    root_content_id: str = "soap-envelope@aswnode",
) -> tuple[str, ByteSource]:
    """The Content-Type and a streaming body: the SOAP part first, then each attachment as binary."""
    if not _BOUNDARY.match(boundary):
        raise ValueError("boundary must be 1-70 RFC 2046 bchars, not ending in a space")
    dash = f"--{boundary}".encode("ascii")
    pieces: list[ByteSource] = []
    root_head = (
        f"Content-Type: {SOAP12_MEDIA_TYPE}; charset=UTF-8\r\n"
        "Content-Transfer-Encoding: binary\r\n"
        f"Content-ID: <{root_content_id}>\r\n\r\n"
    )
    pieces.append(InMemory(dash + b"\r\n" + root_head.encode("ascii")))
    pieces.append(InMemory(root))
    for attachment in attachments:
        # Each value on its own: a CRLF inside one would otherwise pass as a header line of its own.
        for value in (
            attachment.mime_type,
            attachment.content_id,
            *(x for kv in attachment.headers for x in kv),
        ):
            _check_header_value(value)
        names = {"content-type", "content-transfer-encoding", "content-id"}
        extra = "".join(f"{k}: {v}\r\n" for k, v in attachment.headers if k.lower() not in names)
        head = (
            f"\r\n--{boundary}\r\n"
            f"Content-Type: {attachment.mime_type}\r\n"
            "Content-Transfer-Encoding: binary\r\n"
            f"Content-ID: <{attachment.content_id}>\r\n{extra}\r\n"
        )
        _check_header_text(head)
        pieces.append(InMemory(head.encode("ascii")))
        pieces.append(attachment.source)
    pieces.append(InMemory(b"\r\n" + dash + b"--\r\n"))
    content_type = (
        f'multipart/related; boundary="{boundary}"; type="{SOAP12_MEDIA_TYPE}"; start="<{root_content_id}>"'
    )
    return content_type, Concatenation(tuple(pieces))


def _check_header_value(value: str) -> None:
    if any(c in value for c in "\r\n\0"):
        raise ValueError(f"MIME header value {value[:60]!r} must not contain a line break or NUL")


def _check_header_text(text: str) -> None:
    if not text.isascii() or any(c in text for c in "\0"):
        raise ValueError("MIME headers must be ASCII")
    for line in text.split("\r\n"):
        if "\n" in line or "\r" in line:
            raise ValueError("MIME header values must not contain line breaks")


# ---------------------------------------------------------------------------------- parsing


@dataclass(frozen=True, slots=True)
class _Part:
    headers: tuple[tuple[str, str], ...]
    start: int
    end: int

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)


def parse_multipart(
    body: ByteSource, content_type: str, *, limits: Limits = Limits()
) -> tuple[bytes, tuple[Attachment, ...]]:
    """The SOAP root part's bytes and every other part as an Attachment viewing the body.

    One pass over the body finds the delimiters (RFC 2046 §5.1.1); part contents are
    slices of `body`, so a payload is never copied here (except base64-encoded parts,
    which are decoded within `limits.max_inline_part_bytes`).
    """
    if body.size > limits.max_message_bytes:
        raise EbmsException(EbmsError.OTHER, f"message of {body.size} bytes is over the limit")
    parsed = parse_content_type(content_type)
    if parsed.media_type != "multipart/related":
        raise EbmsException(_MIME, f"expected multipart/related, got {parsed.media_type}")
    boundary = parsed.parameter("boundary")
    if not boundary or len(boundary) > 200:
        raise EbmsException(_MIME, "multipart/related without a usable boundary")
    parts = _scan(body, boundary.encode("latin-1", "replace"), limits)
    if not parts:
        raise EbmsException(_MIME, "multipart body has no parts")
    if len(parts) > limits.max_parts:
        raise EbmsException(_MIME, f"more than {limits.max_parts} MIME parts")
    start = parsed.parameter("start")
    root_index = 0
    if start:
        wanted = _strip_cid(start)
        matches = [i for i, p in enumerate(parts) if _strip_cid(p.header("content-id") or "") == wanted]
        if len(matches) != 1:
            raise EbmsException(_MIME, "the start parameter names no single MIME part")
        root_index = matches[0]
    root_part = parts[root_index]
    root_type = parse_content_type(root_part.header("content-type") or "").media_type
    if root_type not in (SOAP12_MEDIA_TYPE, "application/xop+xml", "text/xml"):
        raise EbmsException(_MIME, f"the root MIME part is {root_type}, not {SOAP12_MEDIA_TYPE}")
    root_source = _content(body, root_part, limits.max_xml_bytes)
    try:
        root = read_all(root_source, limits.max_xml_bytes)
    except ValueError:
        raise EbmsException(EbmsError.OTHER, "the SOAP part is over the XML size limit") from None
    attachments: list[Attachment] = []
    seen: set[str] = set()
    for index, part in enumerate(parts):
        if index == root_index:
            continue
        content_id = _strip_cid(part.header("content-id") or "")
        if not content_id:
            raise EbmsException(_MIME, f"MIME part {index} has no Content-ID")
        if content_id in seen:
            raise EbmsException(_MIME, f"two MIME parts share the Content-ID {content_id[:80]!r}")
        seen.add(content_id)
        mime_type = (part.header("content-type") or "application/octet-stream").strip()
        try:
            attachments.append(
                Attachment(
                    content_id, mime_type, _content(body, part, limits.max_inline_part_bytes), part.headers
                )
            )
        except ValueError:
            raise EbmsException(_MIME, f"MIME part {index} has an invalid Content-ID") from None
    return root, tuple(attachments)


def _strip_cid(value: str) -> str:
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip()
    if value.lower().startswith("cid:"):
        value = value[4:]
    return value


def _content(body: ByteSource, part: _Part, inline_limit: int) -> ByteSource:
    view = slice_of(body, part.start, part.end - part.start)
    encoding = (part.header("content-transfer-encoding") or "binary").strip().lower()
    if encoding in ("binary", "8bit", "7bit"):
        return view
    if encoding == "base64":
        if view.size > inline_limit * 4 // 3 + 4096:
            raise EbmsException(_MIME, "a base64 MIME part is over the size limit")
        text = b"".join(view.chunks())
        try:
            return InMemory(base64.b64decode(b"".join(text.split()), validate=True))
        except (binascii.Error, ValueError):
            raise EbmsException(_MIME, "a MIME part is not valid base64") from None
    raise EbmsException(_MIME, f"Content-Transfer-Encoding {encoding[:40]!r} is not supported")


def _scan(body: ByteSource, boundary: bytes, limits: Limits) -> list[_Part]:
    """Delimiter positions and part headers in one bounded-memory pass over `body`."""
    delimiter = b"--" + boundary
    parts: list[_Part] = []
    buffer = bytearray()
    base = 0  # absolute offset of buffer[0]
    search_from = 0  # index in buffer where the next delimiter search starts
    pending: int | None = None  # index in buffer of a delimiter whose headers are not complete yet
    current: tuple[tuple[tuple[str, str], ...], int] | None = None  # headers and start of the open part
    closed = False
    seen_first = False
    for chunk in body.chunks():
        if closed:
            break
        buffer += chunk
        while not closed:
            if pending is not None:
                outcome = _delimiter_line(buffer, pending, delimiter, limits)
                if outcome is None:
                    break  # need more bytes
                if outcome == "close":
                    closed = True
                    break
                headers, content_index = outcome
                current = (headers, base + content_index)
                pending = None
                search_from = content_index
                continue
            if not seen_first and base == 0 and buffer.startswith(delimiter):
                index = 0
            else:
                found = buffer.find(b"\n" + delimiter, search_from)
                index = found + 1 if found >= 0 else -1
            if index < 0:
                # Keep what could still be the start of "\r\n--boundary".
                drop = len(buffer) - len(delimiter) - 2
                if drop > 0:
                    del buffer[:drop]
                    base += drop
                    search_from = max(0, search_from - drop)
                break
            seen_first = True
            if current is not None:
                end = index - 1
                if end > 0 and buffer[end - 1 : end] == b"\r":
                    end -= 1
                headers, start = current
                if base + end < start:
                    raise EbmsException(_MIME, "a MIME part ends before it starts")
                parts.append(_Part(headers, start, base + end))
                if len(parts) > limits.max_parts:
                    raise EbmsException(_MIME, f"more than {limits.max_parts} MIME parts")
                current = None
            pending = index
            search_from = index + len(delimiter)
    if not closed:
        raise EbmsException(_MIME, "the multipart body is truncated (no closing delimiter)")
    return parts


def _delimiter_line(
    buffer: bytearray, index: int, delimiter: bytes, limits: Limits
) -> str | tuple[tuple[tuple[str, str], ...], int] | None:
    """After the delimiter at `index`: "close", the part's headers and content index, or None (need more)."""
    after = index + len(delimiter)
    if len(buffer) < after + 2:
        return None
    if buffer[after : after + 2] == b"--":
        return "close"
    line_end = buffer.find(b"\n", after)
    window = limits.max_part_header_bytes + 256
    if line_end < 0:
        if len(buffer) - after > window:
            raise EbmsException(_MIME, "a MIME delimiter line is too long")
        return None
    if bytes(buffer[after:line_end]).strip(b" \t\r"):
        # Not a delimiter after all: the boundary is only a prefix of this line.
        raise EbmsException(_MIME, "a line starts with the boundary but is not a delimiter")
    ends = [(buffer.find(b"\n\r\n", line_end), 3), (buffer.find(b"\n\n", line_end), 2)]
    ends = [(pos, size) for pos, size in ends if pos >= 0 and pos - line_end <= window]
    if not ends:
        if len(buffer) - line_end > window:
            raise EbmsException(_MIME, "MIME part headers are too long")
        return None
    head_end, size = min(ends)
    raw = bytes(buffer[line_end + 1 : head_end + 1])
    return _parse_headers(raw), head_end + size


def _parse_headers(raw: bytes) -> tuple[tuple[str, str], ...]:
    text = raw.decode("latin-1")
    lines: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line:
            continue
        if line[0] in " \t" and lines:
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    headers = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise EbmsException(_MIME, "a MIME part header line has no name")
        headers.append((name.strip().lower(), value.strip()))
    return tuple(headers)
