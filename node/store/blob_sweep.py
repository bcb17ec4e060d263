"""Orphan blob sweep: delete blob files no row refers to, once old enough that no writer still holds them.

A process killed between writing a blob and committing the row that names it leaves a file
nothing refers to. The sweep walks the store in digest order beside one ordered query over
every column that names a blob (a merge: constant memory however many blobs there are), keeps
what is referenced or younger than `older_than`, checks the few candidates again in a new
transaction, and deletes each one through a rename to a quarantine name, so that a blob a
writer touched meanwhile is put back instead (see `_remove`).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, union
from sqlalchemy.orm import InstrumentedAttribute, Session

from node.store.blobs import BlobStore
from node.store.database import Database
from node.store.models import Message, Payload, Submission

__all__ = [
    "DEFAULT_AGE",
    "MIN_AGE",
    "REFERENCES",
    "SweepAborted",
    "SweepResult",
    "sweep_orphans",
]

# Every column whose value names a file in the blob store. A column added without being
# listed here would have its blobs deleted: tests/integration/store/test_blob_sweep.py fails
# for any *digest* column of the schema that is neither here nor known not to name a blob.
REFERENCES: tuple[InstrumentedAttribute[Any], ...] = (
    # Every payload part, outbound and inbound. A part kept in its row (payloads.data) names no file:
    # its digest merely keeps a file of equal bytes, should one exist; nothing expects one.
    Payload.blob_digest,
    Message.wire_digest,  # the signed message as on the wire, when too large for its row
    Message.receipt_digest,  # the receipt, when too large for its row
    Submission.document_digest,  # the ministry's domestic document as submitted
)
DEFAULT_AGE = timedelta(days=1)
# Younger than this, a blob may belong to a message being received or submitted right now.
MIN_AGE = timedelta(hours=1)
RECHECK_BATCH = 500
QUARANTINE_PREFIX = ".sweep-"
_HEX2 = re.compile(r"[0-9a-f]{2}")
_DIGEST = re.compile(r"[0-9a-f]{64}")


class SweepAborted(RuntimeError):
    """The database did not list the digests in order: nothing was deleted."""


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What one sweep found. With `dry_run`, `deleted` and `bytes` are what it would have removed."""

    scanned: int
    referenced: int
    young: int
    deleted: int
    bytes: int
    restored: int
    temporaries: int
    dry_run: bool
    older_than_hours: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def sweep_orphans(
    db: Database,
    blobs: BlobStore,
    *,
    older_than: timedelta = DEFAULT_AGE,
    dry_run: bool = False,
    now: float | None = None,
) -> SweepResult:
    """Delete (or with `dry_run` only count) the blobs no row names that are older than `older_than`."""
    if older_than < MIN_AGE:
        raise ValueError(f"older_than must be at least {MIN_AGE} (a blob may be in use before its row)")
    cutoff = (time.time() if now is None else now) - older_than.total_seconds()
    restored = 0 if dry_run else _restore_quarantined(blobs)
    temporaries = 0 if dry_run else blobs.sweep_temporary()
    scanned = referenced = young = 0
    candidates: list[tuple[str, int]] = []
    with db.read_session() as session:
        named = _referenced_in_order(session, db.dialect)
        current = next(named, None)
        for digest in _stored_in_order(blobs):
            scanned += 1
            while current is not None and current < digest:
                current = next(named, None)
            if current == digest:
                referenced += 1
                continue
            try:
                stat = blobs.path(digest).stat()
            except FileNotFoundError:
                continue
            if stat.st_mtime >= cutoff:
                young += 1
                continue
            candidates.append((digest, stat.st_size))
    still_named = _named_now(db, [d for d, _ in candidates])
    referenced += len(still_named)
    deleted = size = 0
    for digest, length in candidates:
        if digest in still_named:
            continue
        if dry_run or _remove(blobs, digest, cutoff):
            deleted += 1
            size += length
        else:
            young += 1
    return SweepResult(
        scanned=scanned,
        referenced=referenced,
        young=young,
        deleted=deleted,
        bytes=size,
        restored=restored,
        temporaries=temporaries,
        dry_run=dry_run,
        older_than_hours=older_than.total_seconds() / 3600,
    )


def _stored_in_order(blobs: BlobStore) -> Iterator[str]:
    """The store's digests in ascending order: its `ab/cd/<digest>` layout walked sorted, level by
    level. Only a file at the place `blobs.path()` gives its name counts."""
    for first in _sorted_entries(blobs.root, directories=True):
        if not _HEX2.fullmatch(first.name):
            continue
        for second in _sorted_entries(Path(first.path), directories=True):
            if not _HEX2.fullmatch(second.name):
                continue
            for entry in _sorted_entries(Path(second.path), directories=False):
                name = entry.name
                if _DIGEST.fullmatch(name) and blobs.path(name) == Path(entry.path):
                    yield name


def _sorted_entries(directory: Path, *, directories: bool) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as listing:
            entries = [
                e
                for e in listing
                if (e.is_dir(follow_symlinks=False) if directories else e.is_file(follow_symlinks=False))
            ]
    except FileNotFoundError:
        return []
    return sorted(entries, key=lambda e: e.name)


def _referenced_in_order(session: Session, dialect: str) -> Iterator[str]:
    """Every digest a row names, once each, ascending in code-point order (checked as it streams)."""
    named = union(*(select(column.label("digest")).where(column.is_not(None)) for column in REFERENCES))
    digests = named.subquery()
    key = digests.c.digest.collate("C") if dialect == "postgresql" else digests.c.digest
    rows = session.execute(select(digests.c.digest).order_by(key).execution_options(yield_per=2000))
    last = ""
    for (digest,) in rows:
        if digest < last:
            raise SweepAborted(f"the database listed {digest} after {last}: nothing was deleted")
        last = digest
        yield digest


def _named_now(db: Database, digests: Sequence[str]) -> set[str]:
    """Which of `digests` a row names now (a new transaction: rows committed during the walk count)."""
    found: set[str] = set()
    with db.read_session() as session:
        for start in range(0, len(digests), RECHECK_BATCH):
            batch = list(digests[start : start + RECHECK_BATCH])
            for column in REFERENCES:
                found.update(session.scalars(select(column).where(column.in_(batch)).distinct()))
    return found


def _remove(blobs: BlobStore, digest: str, cutoff: float) -> bool:
    """Delete one blob unless a writer reuses it now: True if it was deleted.

    The file is first renamed to a quarantine name, so a writer storing equal bytes from then
    on finds no file and installs its own copy. A quarantined file modified since the cutoff
    was touched by a writer just before the rename: it goes back to its place.
    """
    path = blobs.path(digest)
    quarantine = path.with_name(QUARANTINE_PREFIX + digest)
    try:
        os.replace(path, quarantine)
    except FileNotFoundError:
        return False
    if quarantine.stat().st_mtime >= cutoff:
        _put_back(quarantine, path)
        return False
    quarantine.unlink()
    return True


def _put_back(quarantine: Path, path: Path) -> None:
    if path.exists():  # a writer installed the same bytes meanwhile
        quarantine.unlink(missing_ok=True)
    else:
        os.replace(quarantine, path)


def _restore_quarantined(blobs: BlobStore) -> int:
    """Quarantined files a killed sweep left: back to their places (this sweep judges them again)."""
    restored = 0
    for quarantine in blobs.root.glob(f"??/??/{QUARANTINE_PREFIX}*"):
        digest = quarantine.name[len(QUARANTINE_PREFIX) :]
        if not _DIGEST.fullmatch(digest) or blobs.path(digest).parent != quarantine.parent:
            continue
        _put_back(quarantine, blobs.path(digest))
        restored += 1
    return restored
