"""What a statement cost the database, counted by the database itself (never by a clock): the tests that
show a read does not grow with history or backlog compare this at two sizes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from node.store.database import Database


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


def analysed(db: Database) -> None:
    """What autovacuum does on PostgreSQL: statistics (without them the planner guesses its indexes),
    and deleted rows gone from the indexes."""
    if db.dialect == "postgresql":
        with db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
