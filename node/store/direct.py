"""Hot-path statements run on the driver's cursor: compiled once per dialect, typed by SQLAlchemy's types.

Through a Session, and still through a Connection, SQLAlchemy spends ~70–90 µs of Python on each
statement (execution context, cache key, events, result set-up); the driver needs ~15 µs. For the
few statements every message runs (the audit append, the gate's look-ups, the sender's bookkeeping)
that was a large share of a node's CPU (ops/bench/node.md). Values still go through each column
type's bind and result processors (UtcDateTime, JSON ...), and driver errors come out as
SQLAlchemy's (IntegrityError ...), as they would from `session.execute`. Statements that need
Python-side column defaults or expanding IN lists are refused when compiled: they take the
ordinary path. Each runs on a Session (in its transaction, after its autoflush) or on a plain
Connection (a few independent reads need no transaction of their own).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql import CompoundSelect, Select
from sqlalchemy.sql.dml import Insert, UpdateBase

__all__ = ["DirectRead", "DirectWrite"]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positions: tuple[str, ...] | None  # qmark drivers (SQLite); None: named parameters (psycopg)
    processors: Mapping[str, Callable[[Any], Any]]
    fixed: Mapping[str, Any]  # values bound in the statement itself (`id == 1`)
    row: Callable[..., Any] | None = None  # a SELECT's row type (a named tuple)
    results: tuple[tuple[int, Callable[[Any], Any]], ...] = ()  # (column, result processor)

    def bind(self, params: Mapping[str, Any]) -> Any:
        values = {**self.fixed, **params} if self.fixed else params
        processors = self.processors
        # Each value once, however often the statement uses it (a timestamp's processing is not free).
        bound = {
            name: processors[name](value) if name in processors else value for name, value in values.items()
        }
        if self.positions is not None:
            return tuple(bound[name] for name in self.positions)
        return bound


def _flushed(session: Session | Connection) -> Connection:
    """The session's connection, once what the session holds unflushed is written (its autoflush)."""
    if isinstance(session, Connection):
        return session
    if session.autoflush:
        session.flush()  # returns at once when nothing is pending
    return session.connection()


class _Direct:
    def __init__(self, statement: Any, keys: Sequence[str] | None = None) -> None:
        self._statement = statement
        self._keys = list(keys) if keys is not None else None
        self._compiled: dict[str, _Compiled] = {}

    def _run(
        self, connection: Connection, params: Mapping[str, Any], consume: Callable[[_Compiled, Any], Any]
    ) -> Any:
        dialect = connection.dialect
        compiled = self._compiled.get(dialect.name) or self._compile(dialect)
        args = compiled.bind(params)
        cursor = connection.connection.cursor()
        try:
            cursor.execute(compiled.sql, args)
            return consume(compiled, cursor)
        except dialect.loaded_dbapi.Error as exc:
            # As SQLAlchemy does: a connection the server dropped is invalidated, not pooled again.
            lost = dialect.is_disconnect(exc, connection.connection.dbapi_connection, cursor)
            if lost:
                connection.invalidate(exc)
            raise DBAPIError.instance(
                compiled.sql,
                args,
                exc,
                dialect.loaded_dbapi.Error,
                connection_invalidated=lost,
                dialect=dialect,
            ) from exc
        finally:
            cursor.close()

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled: Any = self._statement.compile(dialect=dialect, column_keys=self._keys)
        if compiled.insert_prefetch or compiled.update_prefetch:
            names = [c.key for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]
            raise ValueError(f"give every value: {names} would need Python-side defaults")
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("expanding parameters take the ordinary path")
        row: Callable[..., Any] | None = None
        results: list[tuple[int, Callable[[Any], Any]]] = []
        if isinstance(self._statement, (Select, CompoundSelect)) or compiled.effective_returning:
            columns = compiled._result_columns
            row = namedtuple("Row", [c.keyname for c in columns], rename=True)  # type: ignore[misc]
            for position, column in enumerate(columns):
                processor = column.type._cached_result_processor(dialect, None)
                if processor is not None:
                    results.append((position, processor))
        fixed = {name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required}
        result = _Compiled(
            sql=compiled.string,
            positions=tuple(compiled.positiontup) if compiled.positional else None,
            processors=dict(compiled._bind_processors),
            fixed=fixed,
            row=row,
            results=tuple(results),
        )
        self._compiled[dialect.name] = result
        return result


class DirectWrite(_Direct):
    """An INSERT/UPDATE/DELETE given every value by name; `execute` runs it in the session's transaction."""

    def __init__(self, statement: UpdateBase, keys: Sequence[str] | None = None) -> None:
        # Inline: an INSERT without RETURNING of its own gets no implicit RETURNING of the key
        # (PostgreSQL compiles one for some tables), which nothing here would read.
        super().__init__(statement.inline() if isinstance(statement, Insert) else statement, keys)

    def execute(self, session: Session | Connection, params: Mapping[str, Any]) -> int:
        """Run it with `params`; the number of rows it changed."""
        return self.execute_on(_flushed(session), params)

    def execute_on(self, connection: Connection, params: Mapping[str, Any]) -> int:
        return int(self._run(connection, params, lambda _compiled, cursor: cursor.rowcount))

    def returning(self, session: Session | Connection, params: Mapping[str, Any]) -> list[Any]:
        """Run a statement with RETURNING: the rows it returned, as DirectRead's."""
        return self._run(_flushed(session), params, _typed_rows)


class DirectRead(_Direct):
    """A SELECT: its rows as named tuples (attribute access as on SQLAlchemy's rows), values typed."""

    def __init__(self, statement: Select[Any] | CompoundSelect) -> None:
        super().__init__(statement)

    def rows(self, session: Session | Connection, params: Mapping[str, Any]) -> list[Any]:
        return self.rows_on(_flushed(session), params)

    def rows_on(self, connection: Connection, params: Mapping[str, Any]) -> list[Any]:
        return self._run(connection, params, _typed_rows)

    def first(self, session: Session | Connection, params: Mapping[str, Any]) -> Any | None:
        found = self.rows(session, params)
        return found[0] if found else None


def _typed_rows(compiled: _Compiled, cursor: Any) -> list[Any]:
    make, results = compiled.row, compiled.results
    assert make is not None
    if not results:
        return [make(*values) for values in cursor.fetchall()]
    rows = []
    for values in cursor.fetchall():
        typed = list(values)
        for position, processor in results:
            typed[position] = processor(typed[position])
        rows.append(make(*typed))
    return rows
