"""What a statement cost the database, counted by the database itself (never by a clock): the tests that
show a read does not grow with history or backlog compare this at two sizes."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from node.store.database import Database
from node.store.models import Message, Payload

SHORT, LONG = 500, 4000
# Eight times the history: an index a level deeper, no more. A read that walked the history costs
# about eight times more.
GROWTH = 1.5


def work_of(session: Session, tables: tuple[str, ...], action: Callable[[], Any]) -> int:
    """What `action` cost the database: SQLite virtual-machine steps (in hundreds; `tables` do not
    matter), PostgreSQL tuples and blocks read from `tables` and their indexes in this transaction."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        steps = [0]

        def count() -> int:
            steps[0] += 1
            return 0

        raw = connection.connection.dbapi_connection
        raw.set_progress_handler(count, 100)
        try:
            action()
        finally:
            raw.set_progress_handler(None, 100)
        return steps[0]
    # The table's and its indexes' counters (the table's own stay at 0 while the transaction runs).
    relations = " OR ".join(
        f"oid = '{t}'::regclass OR oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = '{t}'::regclass)"
        for t in tables
    )
    read = text(
        "SELECT SUM(pg_stat_get_xact_tuples_returned(oid) + pg_stat_get_xact_tuples_fetched(oid)"
        f" + pg_stat_get_xact_blocks_fetched(oid)) FROM pg_class WHERE {relations}"
    )
    before = session.scalar(read)
    action()
    return int(session.scalar(read) - before)


# The plans the cost tests prove on SQLite are its guesses without statistics: a node never runs
# ANALYZE. An operator's `sqlite3 node.db ANALYZE` would give it some; run the tests as after that with
# ASWNODE_TEST_SQLITE_ANALYZE=1 (docs/decisions.md, Storage: why the node runs no PRAGMA optimize).
SQLITE_STATISTICS = os.environ.get("ASWNODE_TEST_SQLITE_ANALYZE", "") == "1"


def analysed(db: Database, *, sqlite_statistics: bool | None = None) -> None:
    """What autovacuum does on PostgreSQL: statistics (without them the planner guesses its indexes),
    and deleted rows gone from the indexes. On SQLite, statistics only if asked (`sqlite_statistics`,
    by default SQLITE_STATISTICS): ANALYZE, and the read connections opened again to load them."""
    if db.dialect == "postgresql":
        with db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    elif SQLITE_STATISTICS if sqlite_statistics is None else sqlite_statistics:
        with db.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        db.read_engine.dispose()


def messages(session: Session, now: datetime, rows: list[dict[str, Any]]) -> list[int]:
    """Messages (oldest first, one a second before `now`) with one payload each; their ids in order."""
    start = session.scalar(text("SELECT COALESCE(MAX(id), 0) FROM messages")) or 0
    at = now - timedelta(seconds=len(rows))
    session.execute(
        insert(Message.__table__),
        [
            {
                "direction": "inbound",
                "message_id": f"m{start + i}@them",
                "partner_id": "th",
                "service": "urn:svc",
                "action": "Deliver",
                "state": "received",
                "attempts": 0,
                "properties": {},
                "is_test": False,
                "created_at": at + timedelta(seconds=i),
                "updated_at": at + timedelta(seconds=i),
                **row,
            }
            for i, row in enumerate(rows)
        ],
    )
    ids = list(session.scalars(text("SELECT id FROM messages WHERE id > :s ORDER BY id"), {"s": start}))
    session.execute(
        insert(Payload.__table__),
        [
            {"message_pk": pk, "position": 0, "mime_type": "application/xml", "blob_digest": "ab" * 32}
            | {"size": 10, "properties": []}
            for pk in ids
        ],
    )
    return ids


def cost(db: Database, tables: tuple[str, ...], read: Callable[[Session], Any]) -> tuple[int, Any]:
    analysed(db)
    with db.read_session() as session:
        if db.dialect == "postgresql":
            # A table of a few thousand rows is read whole more cheaply than through an index, and the
            # planner knows it; over a long history (2 M rows) it takes the index. The test asks for a
            # plan that needs no whole table.
            session.execute(text("SET LOCAL enable_seqscan = off"))
            # A parallel plan's workers read in their own backends: their reads are not in this
            # transaction's counters, so the plan's cost would go unseen.
            session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        found: list[Any] = []
        work = work_of(session, tables, lambda: found.append(read(session)))
    return work, found[0]
