"""BlobStore: content-addressed, atomic, deduplicated, streamed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from node.store.blobs import BlobCorrupt, BlobMissing, BlobRef, BlobStore


def test_put_names_the_blob_by_its_sha256_and_gives_it_back(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    ref = store.put([b"hello ", b"world"])
    assert ref == BlobRef(hashlib.sha256(b"hello world").hexdigest(), 11)
    assert store.path(ref.digest).read_bytes() == b"hello world"
    with store.open(ref.digest) as source:
        assert source.size == 11 and b"".join(source.chunks(4)) == b"hello world"
    assert store.read_bytes(ref.digest, limit=11) == b"hello world"
    with pytest.raises(ValueError, match="over the limit"):
        store.read_bytes(ref.digest, limit=10)


def test_equal_bytes_are_stored_once_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    first = store.put_bytes(b"same")
    second = store.put([b"sa", b"me"])
    assert first == second
    assert list(store.digests()) == [first.digest]
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == []


def test_a_failing_producer_leaves_nothing_behind(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)

    def chunks():
        yield b"partial"
        raise OSError("connection lost")

    with pytest.raises(OSError):
        store.put(chunks())
    assert list(tmp_path.rglob("*")) == []


def test_verify_finds_a_blob_whose_bytes_changed(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    ref = store.put_bytes(b"original")
    store.verify(ref.digest)
    path = store.path(ref.digest)
    os.chmod(path, 0o644)
    path.write_bytes(b"changed!")
    with pytest.raises(BlobCorrupt):
        store.verify(ref.digest)
    with pytest.raises(BlobMissing):
        store.source("00" * 32)


def test_a_digest_that_is_not_sha256_hex_is_refused_before_touching_the_disk(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    for bad in ("../../etc/passwd", "AB" * 32, "ab" * 31):
        with pytest.raises(ValueError):
            store.path(bad)


def test_a_spool_writes_straight_into_the_store(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    spool = store.spool()
    spool.write(b"decrypted ")
    spool.write(b"payload")
    source = spool.finish()
    try:
        assert b"".join(source.chunks()) == b"decrypted payload"
        assert spool.ref == BlobRef(hashlib.sha256(b"decrypted payload").hexdigest(), 17)
    finally:
        spool.close()


STREAM_50_MIB = """
import hashlib, os, resource, sys
from node.store.blobs import BlobStore

store = BlobStore(sys.argv[1])
block = os.urandom(64 * 1024)
expected = hashlib.sha256()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def chunks():
    for _ in range(800):
        expected.update(block)
        yield block


ref = store.put(chunks())
hasher = hashlib.sha256()
with store.open(ref.digest) as source:
    for chunk in source.chunks():
        hasher.update(chunk)
store.verify(ref.digest)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(ref.digest == expected.hexdigest() == hasher.hexdigest(), ref.size, grown)
"""


def test_a_50_mib_blob_streams_in_and_out_without_being_held_in_memory(tmp_path: Path) -> None:
    # A fresh process, so that its peak RSS is this blob's doing and nothing else's.
    result = subprocess.run(
        [sys.executable, "-c", STREAM_50_MIB, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    same, size, grown_kib = result.stdout.split()
    assert (same, int(size)) == ("True", 50 * 1024 * 1024)
    # Holding it whole would raise the peak by 50 MiB; streaming stays far below.
    assert int(grown_kib) < 16 * 1024


def test_temporary_files_left_by_a_killed_writer_are_swept_when_old(tmp_path: Path) -> None:
    BlobStore(tmp_path)
    stale, fresh = tmp_path / ".tmp-stale", tmp_path / ".tmp-fresh"
    stale.write_bytes(b"half a payload")
    fresh.write_bytes(b"being written now")
    day_ago = time.time() - 2 * 24 * 3600
    os.utime(stale, (day_ago, day_ago))
    BlobStore(tmp_path)
    assert not stale.exists() and fresh.exists()


def test_small_bytes_are_inlined_and_large_ones_go_to_a_blob(tmp_path: Path) -> None:
    from protocols.as4.payload import InMemory

    store = BlobStore(tmp_path)
    small = store.put_or_inline(InMemory(b"x" * 100), limit=100)
    assert (small.digest, small.size, small.data) == (hashlib.sha256(b"x" * 100).hexdigest(), 100, b"x" * 100)
    assert not store.exists(small.digest)
    large = store.put_or_inline(InMemory(b"y" * 101), limit=100)
    assert large.data is None and store.read_bytes(large.digest, 101) == b"y" * 101
    assert store.read_stored(small.digest, small.data, 100) == b"x" * 100
    assert store.read_stored(large.digest, None, 101) == b"y" * 101
    with pytest.raises(ValueError, match="over the limit"):
        store.read_stored(small.digest, small.data, 99)
