"""Byte sources and spools: how payloads move through the protocol code without being held whole.

The protocol code never opens a file. The caller hands it sources to read
(`InMemory`, or `FileSlice` over a file object the caller opened) and a
`SpoolFactory` that gives somewhere to write what it produces (decrypted,
decompressed or built parts). `MemorySpool` is the default for small data and
tests; the node supplies spools backed by temporary files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol, runtime_checkable

__all__ = [
    "CHUNK",
    "Attachment",
    "ByteSource",
    "Concatenation",
    "FileSlice",
    "InMemory",
    "MemorySlice",
    "MemorySpool",
    "SourceWindow",
    "Spool",
    "SpoolFactory",
    "drain",
    "read_all",
    "slice_of",
]

CHUNK = 64 * 1024


@runtime_checkable
class ByteSource(Protocol):
    """Bytes that can be read from the start as often as needed."""

    @property
    def size(self) -> int: ...

    def chunks(self, chunk_size: int = CHUNK) -> Iterator[bytes]: ...


@dataclass(frozen=True, slots=True)
class InMemory:
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def chunks(self, chunk_size: int = CHUNK) -> Iterator[bytes]:
        if type(self.data) is bytes and 0 < len(self.data) <= chunk_size:
            yield self.data  # immutable: no copy needed for a single chunk
            return
        view = memoryview(self.data)
        for start in range(0, len(view), chunk_size):
            yield bytes(view[start : start + chunk_size])


@dataclass(frozen=True, slots=True)
class FileSlice:
    """`length` bytes of an open, seekable binary file from `offset`. Not thread-safe."""

    fileobj: BinaryIO
    offset: int
    length: int

    def __post_init__(self) -> None:
        if self.offset < 0 or self.length < 0:
            raise ValueError("a file slice needs a non-negative offset and length")

    @property
    def size(self) -> int:
        return self.length

    def chunks(self, chunk_size: int = CHUNK) -> Iterator[bytes]:
        remaining = self.length
        position = self.offset
        while remaining > 0:
            self.fileobj.seek(position)
            block = self.fileobj.read(min(chunk_size, remaining))
            if not block:
                raise ValueError("file ended inside a slice")
            position += len(block)
            remaining -= len(block)
            yield block

    def slice(self, offset: int, length: int) -> FileSlice:
        if offset + length > self.length:
            raise ValueError("sub-slice beyond the end of the slice")
        return FileSlice(self.fileobj, self.offset + offset, length)


@dataclass(frozen=True, slots=True)
class Concatenation:
    parts: tuple[ByteSource, ...]

    @property
    def size(self) -> int:
        return sum(part.size for part in self.parts)

    def chunks(self, chunk_size: int = CHUNK) -> Iterator[bytes]:
        for part in self.parts:
            yield from part.chunks(chunk_size)


class Spool(Protocol):
    """Somewhere to write produced bytes; `finish()` gives them back as a source."""

    def write(self, data: bytes) -> None: ...

    def finish(self) -> ByteSource: ...


SpoolFactory = Callable[[], Spool]


@dataclass(slots=True)
class MemorySpool:
    _parts: list[bytes] = field(default_factory=list)

    def write(self, data: bytes) -> None:
        self._parts.append(bytes(data))

    def finish(self) -> ByteSource:
        return InMemory(b"".join(self._parts))


def read_all(source: ByteSource, limit: int) -> bytes:
    """The whole source, refusing more than `limit` bytes (for parts that must be parsed whole)."""
    if source.size > limit:
        raise ValueError(f"{source.size} bytes is over the limit of {limit}")
    return b"".join(source.chunks())


def drain(chunks: Iterable[bytes], spool: Spool) -> ByteSource:
    for block in chunks:
        spool.write(block)
    return spool.finish()


@dataclass(frozen=True, slots=True)
class Attachment:
    """One MIME part of an SwA message as it is (or will be) on the wire.

    `content_id` is without angle brackets and without the `cid:` prefix;
    `mime_type` is the part's Content-Type.
    """

    content_id: str
    mime_type: str
    source: ByteSource
    headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.content_id or "<" in self.content_id or self.content_id.startswith("cid:"):
            raise ValueError(f"bad Content-ID {self.content_id!r}")


@dataclass(frozen=True, slots=True)
class MemorySlice:
    """`length` bytes of `data` from `offset`, without copying them."""

    data: bytes
    offset: int
    length: int

    def __post_init__(self) -> None:
        if self.offset < 0 or self.length < 0 or self.offset + self.length > len(self.data):
            raise ValueError("memory slice outside its data")

    @property
    def size(self) -> int:
        return self.length

    def chunks(self, chunk_size: int = CHUNK) -> Iterator[bytes]:
        view = memoryview(self.data)
        end = self.offset + self.length
        for start in range(self.offset, end, chunk_size):
            yield bytes(view[start : min(start + chunk_size, end)])


@dataclass(frozen=True, slots=True)
class SourceWindow:
    """`length` bytes of any source from `offset` (reads and skips what comes before)."""

    source: ByteSource
    offset: int
    length: int

    def __post_init__(self) -> None:
        if self.offset < 0 or self.length < 0 or self.offset + self.length > self.source.size:
            raise ValueError("window outside its source")

    @property
    def size(self) -> int:
        return self.length

    def chunks(self, chunk_size: int = CHUNK) -> Iterator[bytes]:
        position = 0
        end = self.offset + self.length
        for block in self.source.chunks(chunk_size):
            block_end = position + len(block)
            if block_end > self.offset and position < end:
                yield block[max(0, self.offset - position) : min(len(block), end - position)]
            position = block_end
            if position >= end:
                return


def slice_of(source: ByteSource, offset: int, length: int) -> ByteSource:
    """A view of `length` bytes of `source` from `offset` that copies nothing up front."""
    if isinstance(source, FileSlice):
        return source.slice(offset, length)
    if isinstance(source, InMemory):
        return MemorySlice(source.data, offset, length)
    if isinstance(source, MemorySlice):
        return MemorySlice(source.data, source.offset + offset, length)
    return SourceWindow(source, offset, length)
