"""Orphan blob sweep: delete blob files no row refers to, once old enough that no writer still holds them.

A process killed between writing a blob and committing the row that names it leaves a file
nothing refers to. The sweep walks the store in digest order, `SLICE_BLOBS` files at a time, and
asks the database which of a slice's digests a row names: an indexed digest column by lookups,
a table with unindexed ones read in primary-key order, `WALK_ROWS` at a time (memory and each
transaction bounded however many blobs or rows there are). Of the files no row names it keeps
what is younger than `older_than`, asks again about the old ones, and deletes each one through
a rename to a quarantine name, so that a blob a writer touched meanwhile is put back instead
(see `_remove`).

No read transaction lasts longer than one batch: on SQLite the WAL can be checkpointed, on
PostgreSQL vacuum is not held back, while the sweep runs. Reading the tables in many snapshots
is safe because the first walk only sorts out what is surely referenced; nothing is deleted on
its word. A blob is deleted only when (1) its file was older than the cutoff when the sweep
looked at it, (2) a second walk, whose read transactions all began after that, found no row
naming it, and (3) after the rename its file is still that old. A writer storing equal bytes
touches the file (`BlobStore._install`): before (1) it is young, between (1) and the rename
(3) puts it back, after the rename the writer installs a new copy. A row committed before (2)
began is seen by each of its transactions, as it was by the one transaction the sweep used to
recheck in before.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute

from node.store.blobs import BlobStore
from node.store.database import Database
from node.store.models import Message, Payload, Submission

__all__ = [
    "DEFAULT_AGE",
    "MIN_AGE",
    "REFERENCES",
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
# Rows (or digests) read per read transaction, and store files judged per pass over the tables
# (their digests, sizes and times are what the sweep holds in memory: some 30 MB).
WALK_ROWS = 100_000
SLICE_BLOBS = 100_000
QUARANTINE_PREFIX = ".sweep-"
LOCK_FILE = ".sweep.lock"  # in the store's root, where no blob lives
_HEX2 = re.compile(r"[0-9a-f]{2}")
_DIGEST = re.compile(r"[0-9a-f]{64}")


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


@dataclass(frozen=True, slots=True)
class _Stored:
    digest: str
    size: int
    mtime: float


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
    # One sweep of a store at a time (the node's job and `aswnode blobs sweep` may overlap): a second
    # sweep's restore of quarantined files could hand the first one a blob a writer just touched.
    with _only_sweep(blobs):
        return _sweep(db, blobs, older_than, dry_run, now)


@contextlib.contextmanager
def _only_sweep(blobs: BlobStore) -> Iterator[None]:
    """An exclusive lock on the store's sweep lock file for as long as the sweep runs; waits for one
    already running (released by the kernel if that process dies)."""
    with open(blobs.root / LOCK_FILE, "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _sweep(
    db: Database, blobs: BlobStore, older_than: timedelta, dry_run: bool, now: float | None
) -> SweepResult:
    cutoff = (time.time() if now is None else now) - older_than.total_seconds()
    restored = 0 if dry_run else _restore_quarantined(blobs)
    temporaries = 0 if dry_run else blobs.sweep_temporary()
    scanned = referenced = young = deleted = size = 0
    for stored in _slices(blobs):
        scanned += len(stored)
        named = _named_rows(db, {s.digest for s in stored})
        referenced += len(named)
        old: list[_Stored] = []
        for blob in stored:
            if blob.digest in named:
                continue
            if blob.mtime >= cutoff:
                young += 1
            else:
                old.append(blob)
        # Asked again, in read transactions begun after the files were judged old: rows committed
        # during the first walk count.
        still_named = _named_rows(db, {b.digest for b in old})
        referenced += len(still_named)
        for blob in old:
            if blob.digest in still_named:
                continue
            if dry_run or _remove(blobs, blob.digest, cutoff):
                deleted += 1
                size += blob.size
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


def _slices(blobs: BlobStore) -> Iterator[list[_Stored]]:
    """The store's blobs in digest order, `SLICE_BLOBS` at a time, each with its size and time then."""
    current: list[_Stored] = []
    for digest in _stored_in_order(blobs):
        try:
            stat = blobs.path(digest).stat()
        except FileNotFoundError:
            continue
        current.append(_Stored(digest, stat.st_size, stat.st_mtime))
        if len(current) >= SLICE_BLOBS:
            yield current
            current = []
    if current:
        yield current


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


def _named_rows(db: Database, digests: set[str]) -> set[str]:
    """Which of `digests` the rows name. An indexed column is asked about them directly, `WALK_ROWS`
    digests per read transaction; a table with unindexed digest columns is read in primary-key order,
    `WALK_ROWS` rows per read transaction, the database keeping only its rows that name one of them.
    Every row committed before it began is seen; one committed meanwhile may be missed."""
    found: set[str] = set()
    if not digests:
        return found
    ordered = sorted(digests)
    scanned: dict[Any, list[InstrumentedAttribute[Any]]] = {}
    for column in REFERENCES:
        if _indexed(column):
            for start in range(0, len(ordered), WALK_ROWS):
                among = _among(column, ordered[start : start + WALK_ROWS], db.dialect)
                with db.read_session() as session:
                    found.update(session.scalars(select(column).where(among).distinct()))
        else:
            scanned.setdefault(column.class_, []).append(column)
    for model, columns in scanned.items():
        naming = or_(*(_among(column, ordered, db.dialect) for column in columns))
        key = model.id
        last: Any = None
        while True:
            after = key > last if last is not None else true()
            with db.read_session() as session:
                upper = session.scalar(select(key).where(after).order_by(key).offset(WALK_ROWS - 1).limit(1))
                window = after if upper is None else and_(after, key <= upper)
                for row in session.execute(select(*columns).where(window, naming)):
                    found.update(digest for digest in row if digest in digests)
            if upper is None:
                break
            last = upper
    return found


def _indexed(column: InstrumentedAttribute[Any]) -> bool:
    table = column.class_.__table__
    # An index on an expression has no columns: it cannot serve a look-up by the column.
    return any(index.columns and next(iter(index.columns)).key == column.key for index in table.indexes)


def _among(column: InstrumentedAttribute[Any], digests: list[str], dialect: str) -> ColumnElement[bool]:
    """`column` is one of `digests`, passed as one parameter however many (SQLite caps their number)."""
    if dialect == "postgresql":
        # One text split by the server (binding a list costs the client per element), and a semi-join
        # on the values, hashed once, where `= ANY(array)` compares each row with every element.
        return column.in_(select(func.unnest(func.string_to_array(",".join(digests), ","))))
    values = func.json_each(json.dumps(digests)).table_valued("value")
    return column.in_(select(values.c.value))


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
    try:
        if quarantine.stat().st_mtime >= cutoff:
            _put_back(quarantine, path)
            return False
        quarantine.unlink()
    except FileNotFoundError:  # not ours any more (another process sweeping the same directory)
        return False
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
