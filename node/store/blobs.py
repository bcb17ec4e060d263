"""Content-addressed files (sha256) for payloads, wire messages and receipts, streamed, never whole.

Small ones stay in their database row instead (`put_or_inline`); `open_stored`/`read_stored` read either.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from protocols.as4.payload import CHUNK, ByteSource, FileSlice, InMemory

__all__ = ["INLINE_LIMIT", "BlobCorrupt", "BlobMissing", "BlobRef", "BlobSpool", "BlobStore", "Inlined"]

_DIGEST = re.compile(r"[0-9a-f]{64}")
# Payload parts, wire messages and receipts up to this size are kept in their database row (one
# fsync: the commit's), larger ones stream into the blob store. node.yaml `storage: {inline_limit: N}`.
INLINE_LIMIT = 256 * 1024
STALE_TEMPORARY_SECONDS = 24 * 3600


class BlobMissing(KeyError):
    """No blob with this digest."""


class BlobCorrupt(ValueError):
    """A blob's bytes no longer hash to its name."""


@dataclass(frozen=True, slots=True)
class BlobRef:
    """A stored blob: lowercase hex sha256 of its bytes, and its size."""

    digest: str
    size: int

    def __post_init__(self) -> None:
        if not _DIGEST.fullmatch(self.digest):
            raise ValueError(f"not a sha256 hex digest: {self.digest!r}")
        if self.size < 0:
            raise ValueError("a blob size cannot be negative")


def _check(digest: str) -> str:
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ValueError(f"not a sha256 hex digest: {digest!r}")
    return digest


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobSpool:
    """A `protocols.as4.payload.Spool` writing into the store: `finish()` stores and returns the blob.

    After `finish()`, `ref` names the blob. The returned FileSlice's file is closed by `close()`
    (or use the store's `open()` later); `abort()` throws the bytes away.
    """

    def __init__(self, store: BlobStore) -> None:
        self._store = store
        self._hash = hashlib.sha256()
        self._size = 0
        fd, name = tempfile.mkstemp(prefix=".tmp-", dir=store.root)
        self._tmp = Path(name)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self._opened: BinaryIO | None = None
        self.ref: BlobRef | None = None

    def write(self, data: bytes) -> None:
        if self._file is None:
            raise ValueError("spool already finished")
        self._hash.update(data)
        self._size += len(data)
        self._file.write(data)

    def commit(self) -> BlobRef:
        """Store the bytes written so far (fsync, rename, fsync directory) and name them."""
        if self.ref is not None:
            return self.ref
        if self._file is None:
            raise ValueError("spool aborted")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        self.ref = self._store._install(self._tmp, BlobRef(self._hash.hexdigest(), self._size))
        return self.ref

    def finish(self) -> ByteSource:
        ref = self.commit()
        self._opened = self._store.path(ref.digest).open("rb")
        return FileSlice(self._opened, 0, ref.size)

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._tmp.unlink(missing_ok=True)

    def close(self) -> None:
        self.abort()
        if self._opened is not None:
            self._opened.close()
            self._opened = None

    def __enter__(self) -> BlobSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


@dataclass(frozen=True, slots=True)
class Inlined:
    """Bytes kept in a database row (`data`), or when too large a blob (`data` None), named by `digest`."""

    digest: str
    size: int
    data: bytes | None


class BlobStore:
    """Blobs under `root/ab/cd/<digest>`; writes are atomic and durable, equal bytes are stored once."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.sweep_temporary()

    def sweep_temporary(self, older_than: float = STALE_TEMPORARY_SECONDS) -> int:
        """Remove temporary files a killed process left behind (old enough that nobody writes them)."""
        removed = 0
        limit = time.time() - older_than
        for tmp in self.root.glob(".tmp-*"):
            with contextlib.suppress(FileNotFoundError):
                if tmp.stat().st_mtime < limit:
                    tmp.unlink()
                    removed += 1
        return removed

    def path(self, digest: str) -> Path:
        digest = _check(digest)
        return self.root / digest[:2] / digest[2:4] / digest

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            raise BlobMissing(digest) from None

    def put(self, chunks: Iterable[bytes]) -> BlobRef:
        """Stream `chunks` into the store; returns the blob's digest and size."""
        spool = BlobSpool(self)
        try:
            for block in chunks:
                spool.write(block)
            return spool.commit()
        finally:
            spool.abort()

    def put_bytes(self, data: bytes) -> BlobRef:
        return self.put((data,))

    def put_source(self, source: ByteSource) -> BlobRef:
        return self.put(source.chunks())

    def put_or_inline(self, source: ByteSource, limit: int = INLINE_LIMIT) -> Inlined:
        """Up to `limit` bytes come back to be stored in a row (no file, no fsync); more go to a blob."""
        if source.size <= limit:
            data = b"".join(source.chunks())
            if len(data) <= limit:
                return Inlined(hashlib.sha256(data).hexdigest(), len(data), data)
        ref = self.put_source(source)
        return Inlined(ref.digest, ref.size, None)

    def read_stored(self, digest: str, data: bytes | None, limit: int) -> bytes:
        """Bytes kept inline in a row (`data`) or else in the blob `digest`, at most `limit` of them."""
        if data is not None:
            if len(data) > limit:
                raise ValueError(f"{len(data)} bytes, over the limit of {limit}")
            return data
        return self.read_bytes(digest, limit)

    @contextmanager
    def open_stored(self, digest: str, data: bytes | None) -> Iterator[ByteSource]:
        """Bytes kept inline in a row (`data`) or else the blob `digest`, to stream (a file closed on exit).

        Every reader of a payload part, wire message or receipt goes through here or `read_stored`.
        """
        if data is not None:
            yield InMemory(data)
            return
        with self.open(digest) as source:
            yield source

    def spool(self) -> BlobSpool:
        return BlobSpool(self)

    def source(self, digest: str) -> FileSlice:
        """The blob as a FileSlice over a newly opened file; close `.fileobj` when done (or use `open`)."""
        path = self.path(digest)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise BlobMissing(digest) from None
        return FileSlice(handle, 0, os.fstat(handle.fileno()).st_size)

    @contextmanager
    def open(self, digest: str) -> Iterator[FileSlice]:
        source = self.source(digest)
        try:
            yield source
        finally:
            source.fileobj.close()

    def read_bytes(self, digest: str, limit: int) -> bytes:
        """A small blob whole (a receipt, a document to parse); refuses more than `limit` bytes."""
        with self.open(digest) as source:
            if source.size > limit:
                raise ValueError(f"blob {digest} has {source.size} bytes, over the limit of {limit}")
            return b"".join(source.chunks())

    def verify(self, digest: str) -> None:
        """Rehash the blob; raises BlobCorrupt if its bytes changed, BlobMissing if it is gone."""
        hasher = hashlib.sha256()
        with self.open(digest) as source:
            for block in source.chunks(CHUNK * 4):
                hasher.update(block)
        if hasher.hexdigest() != digest:
            raise BlobCorrupt(f"blob {digest} now hashes to {hasher.hexdigest()}")

    def delete(self, digest: str) -> bool:
        """Remove a blob no row refers to any more (the caller checks that)."""
        try:
            self.path(digest).unlink()
        except FileNotFoundError:
            return False
        return True

    def digests(self) -> Iterator[str]:
        for path in self.root.glob("??/??/*"):
            if _DIGEST.fullmatch(path.name):
                yield path.name

    def _install(self, tmp: Path, ref: BlobRef) -> BlobRef:
        target = self.path(ref.digest)
        try:
            # Already stored: touched, so the orphan sweep (node.store.blob_sweep) sees it as young
            # and leaves it to the transaction about to reference it.
            os.utime(target)
        except FileNotFoundError:
            pass
        else:
            tmp.unlink(missing_ok=True)
            return ref
        self._ensure_dir(target.parent)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
        return ref

    def _ensure_dir(self, directory: Path) -> None:
        if directory.is_dir():
            return
        self._ensure_dir(directory.parent)
        directory.mkdir(exist_ok=True)
        # The new directory entry itself must reach the disk too.
        _fsync_dir(directory.parent)
