"""Hot-path writes run on the driver's cursor: compiled once per dialect, bound by SQLAlchemy's own types.

Through a Session, and still through a Connection, SQLAlchemy spends ~70–90 µs of Python on each
statement (execution context, cache key, events, result set-up); the driver needs ~15 µs. For the
few writes every message makes (the audit append, the sender's bookkeeping) that was a large share
of a node's CPU (ops/bench/node.md). Values still go through each column type's bind processor
(UtcDateTime, JSON ...), and driver errors come out as SQLAlchemy's (IntegrityError ...), as
they would from `session.execute`. Statements that need Python-side column defaults, expanding
IN lists or RETURNING are refused when compiled: they take the ordinary path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase

__all__ = ["DirectWrite"]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positions: tuple[str, ...] | None  # qmark drivers (SQLite); None: named parameters (psycopg)
    processors: Mapping[str, Callable[[Any], Any]]
    fixed: Mapping[str, Any]  # values bound in the statement itself (`id == 1`)

    def bind(self, params: Mapping[str, Any]) -> Any:
        values = {**self.fixed, **params} if self.fixed else params
        processors = self.processors
        if self.positions is not None:
            return tuple(
                processors[name](values[name]) if name in processors else values[name]
                for name in self.positions
            )
        return {
            name: processors[name](value) if name in processors else value for name, value in values.items()
        }


class DirectWrite:
    """An INSERT/UPDATE/DELETE given every value by name; `execute` runs it in the session's transaction."""

    def __init__(self, statement: UpdateBase, keys: Sequence[str] | None = None) -> None:
        self._statement = statement
        self._keys = list(keys) if keys is not None else None
        self._compiled: dict[str, _Compiled] = {}

    def execute(self, session: Session, params: Mapping[str, Any]) -> int:
        """Run it with `params`; the number of rows it changed."""
        return self.execute_on(session.connection(), params)

    def execute_on(self, connection: Connection, params: Mapping[str, Any]) -> int:
        dialect = connection.dialect
        compiled = self._compiled.get(dialect.name) or self._compile(dialect)
        args = compiled.bind(params)
        cursor = connection.connection.cursor()
        try:
            cursor.execute(compiled.sql, args)
            return int(cursor.rowcount)
        except dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(
                compiled.sql, args, exc, dialect.loaded_dbapi.Error, dialect=dialect
            ) from exc
        finally:
            cursor.close()

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled: Any = self._statement.compile(dialect=dialect, column_keys=self._keys)
        if compiled.insert_prefetch or compiled.update_prefetch:
            names = [c.key for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]
            raise ValueError(f"give every value: {names} would need Python-side defaults")
        if compiled.literal_execute_params or compiled.post_compile_params or compiled.effective_returning:
            raise ValueError("expanding parameters and RETURNING take the ordinary path")
        fixed = {name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required}
        result = _Compiled(
            sql=compiled.string,
            positions=tuple(compiled.positiontup) if compiled.positional else None,
            processors=dict(compiled._bind_processors),
            fixed=fixed,
        )
        self._compiled[dialect.name] = result
        return result
