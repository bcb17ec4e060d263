"""The database handle: engines for SQLite or PostgreSQL, transactions, and DB work off the reactor thread."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

__all__ = ["Database", "normalise_url"]

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_POOL_THREADS = 8
SQLITE_READ_THREADS = 4
# Twisted's reactor thread pool (its default size): the receiver reads its look-ups from there
# (node.inbound), so the connection pools leave room for all of them beside the database's own threads.
REACTOR_THREADS = 10
# Group commit: at most this many callers share one transaction (one fsync).
GROUP_LIMIT = 64


def _set_wal(cursor: Any) -> None:
    """Switch the file to WAL (persistent: once one connection did it, the others find it so).

    On a fresh file the switch needs an exclusive lock and SQLite answers "database is locked" at once,
    without its busy timeout, while another connection holds any lock: nodes starting together on a new
    database met it 1 time in 3 (tests/integration/store/test_database.py)."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _daemon_thread(*args: Any, **kwargs: Any) -> threading.Thread:
    thread = threading.Thread(*args, **kwargs)
    # A process that forgets close() still exits; an interrupted transaction just rolls back.
    thread.daemon = True
    return thread


class _Pool(ThreadPool):
    threadFactory = staticmethod(_daemon_thread)


def normalise_url(url: str | URL) -> URL:
    """`postgresql://` and `postgres://` mean psycopg 3; SQLite's directory is created if missing."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in ("postgresql+psycopg", "sqlite", "sqlite+pysqlite"):
        raise ValueError(f"unsupported database URL scheme {parsed.drivername!r} (sqlite or postgresql)")
    return parsed


def _sqlite_engine(url: URL, *, begin: str, pool_size: int = 5) -> Engine:
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=pool_size,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below), so the driver must not.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        _set_wal(cursor)
        # FULL: a transaction acknowledged to a partner (receipt) or ministry (202) survives power loss.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock at BEGIN: a read-then-write transaction can then never
        # fail half-way with SQLITE_BUSY when another process committed in between.
        connection.exec_driver_sql(begin)

    return engine


class Database:
    """One database. Use `session()` from a worker thread, `run()`/`read()` from the reactor.

    `run(fn, *args)` calls `fn(session, *args)` inside one transaction in the write pool
    (one thread on SQLite: one writer), `read(fn, *args)` in the read pool; both return
    a Deferred firing with fn's result. ORM objects returned stay readable (no expiry on commit)
    but are detached: load what you need inside fn.
    """

    def __init__(self, url: URL, write_engine: Engine, read_engine: Engine, *, reactor: Any = None) -> None:
        self.url = url
        self.engine = write_engine
        self.read_engine = read_engine
        self._sessions = sessionmaker(write_engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(read_engine, expire_on_commit=False)
        self._reactor = reactor
        sqlite = self.dialect == "sqlite"
        self._write_pool = _Pool(1, 1 if sqlite else PG_POOL_THREADS, "db-write")
        self._read_pool = _Pool(1, SQLITE_READ_THREADS, "db-read") if sqlite else self._write_pool
        self._pools_started = False
        self._shutdown_trigger: Any = None
        self._group: deque[tuple[Callable[..., Any], tuple[Any, ...], Deferred[Any]]] = deque()
        self._group_running = False

    # -- opening and closing -------------------------------------------------------------------

    @classmethod
    def open(cls, url: str | URL, *, reactor: Any = None, upgrade: bool = True) -> Database:
        """Connect, and create or upgrade the schema to Alembic head (unless `upgrade=False`)."""
        parsed = normalise_url(url)
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            write_engine = _sqlite_engine(parsed, begin="BEGIN IMMEDIATE")
            read_engine = _sqlite_engine(
                parsed, begin="BEGIN", pool_size=SQLITE_READ_THREADS + REACTOR_THREADS
            )
        else:
            write_engine = create_engine(
                parsed, pool_pre_ping=True, pool_size=PG_POOL_THREADS + REACTOR_THREADS, max_overflow=4
            )
            # Reads see one snapshot (a page and its total agree; the audit chain is verified
            # as of one moment). Same pool as the writes.
            read_engine = write_engine.execution_options(isolation_level="REPEATABLE READ")
        database = cls(parsed, write_engine, read_engine, reactor=reactor)
        if upgrade:
            from node.store.schema import current_revision, head_revision, upgrade_to_head

            # The common case (already at head) is checked without taking SQLite's write lock.
            if current_revision(read_engine) != head_revision():
                upgrade_to_head(write_engine)
        return database

    def close(self) -> None:
        """Stop the thread pools and close every connection."""
        self._stop_pools()
        if self._shutdown_trigger is not None and self._reactor is not None:
            with suppress(KeyError, ValueError, TypeError):
                self._reactor.removeSystemEventTrigger(self._shutdown_trigger)
            self._shutdown_trigger = None
        self.engine.dispose()
        if self.dialect == "sqlite":
            self.read_engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # -- transactions --------------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """One read transaction over one snapshot (on SQLite it does not take the write lock)."""
        with self._read_sessions.begin() as session:
            yield session

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A connection for a few reads that need not see one snapshot (node.store.direct runs them): no
        Session, and on SQLite no transaction of its own; far cheaper than `read_session` per call."""
        with self.read_engine.connect() as connection:
            yield connection

    def run(self, fn: Callable[..., T], *args: Any) -> Deferred[T]:
        """`fn(session, *args)` in one write transaction, in the write thread pool."""
        self._start_pools()
        return deferToThreadPool(self._get_reactor(), self._write_pool, self._in_session, fn, args)

    def run_grouped(self, fn: Callable[..., T], *args: Any) -> Deferred[T]:
        """Like `run`, but callers that queue up while a commit is under way share the next transaction.

        Group commit: one COMMIT (one fsync) for many small writes. If one fn raises (e.g.
        IntegrityError on a duplicate key), the shared transaction is rolled back and each fn runs
        again in a transaction of its own, so only that one's Deferred fails; fns must therefore
        do nothing but database work in their session. Every Deferred fires only after its
        COMMIT, so what a caller answers on is on disk. Call from the reactor thread.
        """
        d: Deferred[T] = Deferred()
        self._group.append((fn, args, d))
        if not self._group_running:
            self._group_running = True
            self._flush_group()
        return d

    def _flush_group(self) -> None:
        batch = []
        while self._group and len(batch) < GROUP_LIMIT:
            batch.append(self._group.popleft())
        self._start_pools()
        done = deferToThreadPool(self._get_reactor(), self._write_pool, self._commit_group, batch)

        def settle(outcome: Any) -> None:
            for (_fn, _args, d), result in zip(batch, outcome, strict=True):
                if isinstance(result, BaseException):
                    d.errback(result)
                else:
                    d.callback(result)

        def failed(failure: Any) -> None:
            for _fn, _args, d in batch:
                d.errback(failure)

        def next_group(_: Any) -> None:
            if self._group:
                self._flush_group()
            else:
                self._group_running = False

        done.addCallbacks(settle, failed).addBoth(next_group)

    def _commit_group(self, batch: list[tuple[Callable[..., Any], tuple[Any, ...], Any]]) -> list[Any]:
        try:
            with self.session() as session:
                return [fn(session, *args) for fn, args, _d in batch]
        except Exception as exc:
            if len(batch) == 1:
                return [exc]
        # One of them failed (e.g. IntegrityError on a duplicate key: rare) and took the shared
        # transaction with it: each again in its own, so only the one that fails fails.
        outcome: list[Any] = []
        for fn, args, _d in batch:
            try:
                with self.session() as session:
                    outcome.append(fn(session, *args))
            except Exception as exc:
                outcome.append(exc)
        return outcome

    def read(self, fn: Callable[..., T], *args: Any) -> Deferred[T]:
        """`fn(session, *args)` in one read transaction, in the read thread pool."""
        self._start_pools()
        return deferToThreadPool(self._get_reactor(), self._read_pool, self._in_read_session, fn, args)

    def _in_session(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self.session() as session:
            return fn(session, *args)

    def _in_read_session(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self.read_session() as session:
            return fn(session, *args)

    # -- thread pools --------------------------------------------------------------------------

    def _get_reactor(self) -> Any:
        if self._reactor is None:
            from twisted.internet import reactor

            self._reactor = reactor
        return self._reactor

    def _start_pools(self) -> None:
        if self._pools_started:
            return
        reactor = self._get_reactor()
        self._write_pool.start()
        if self._read_pool is not self._write_pool:
            self._read_pool.start()
        self._pools_started = True
        self._shutdown_trigger = reactor.addSystemEventTrigger("during", "shutdown", self._stop_pools)

    def _stop_pools(self) -> None:
        if not self._pools_started:
            return
        self._pools_started = False
        self._write_pool.stop()
        if self._read_pool is not self._write_pool:
            self._read_pool.stop()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r}, pid={os.getpid()})"
