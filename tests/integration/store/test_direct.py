"""DirectWrite, DirectRead: statements on the driver's cursor act as session.execute does, both databases."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from node.store.database import Database
from node.store.direct import DirectRead, DirectWrite
from node.store.types import UtcDateTime, utcnow

_META = MetaData()
_PROBES = Table(
    "direct_write_probes",
    _META,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(40), unique=True, nullable=False),
    Column("at", UtcDateTime, nullable=True),
    Column("data", JSON, nullable=True),
    Column("touched", UtcDateTime, default=utcnow),
)
_INSERT = DirectWrite(insert(_PROBES), keys=["id", "name", "at", "data", "touched"])
_RENAME = DirectWrite(update(_PROBES).where(_PROBES.c.id == bindparam("pk")).values(name=bindparam("new")))
_DROP_FIRST = DirectWrite(delete(_PROBES).where(_PROBES.c.id == 1))
_NAMED = DirectRead(
    select(_PROBES.c.id, _PROBES.c.at, _PROBES.c.data, func.count().over().label("total"))
    .where(_PROBES.c.name.like(bindparam("pattern")), _PROBES.c.id > 0)
    .order_by(_PROBES.c.id)
)


@pytest.fixture
def probes(db: Database) -> Database:
    _META.create_all(db.engine)
    return db


def _row(db: Database, pk: int):
    with db.read_session() as session:
        return session.execute(select(_PROBES).where(_PROBES.c.id == pk)).one_or_none()


def test_values_go_through_the_column_types(probes: Database, now: datetime) -> None:
    hanoi = timezone(timedelta(hours=7))
    with probes.session() as session:
        changed = _INSERT.execute(
            session,
            {"id": 1, "name": "a", "at": now.astimezone(hanoi), "data": {"k": [1, "é"]}, "touched": now},
        )
    assert changed == 1
    row = _row(probes, 1)
    assert row.at == now and row.at.tzinfo is not None and row.at.utcoffset() == timedelta(0)
    assert row.data == {"k": [1, "é"]}


def test_a_naive_time_is_refused_as_the_type_says(probes: Database) -> None:
    with pytest.raises(ValueError, match="naive"), probes.session() as session:
        _INSERT.execute(
            session, {"id": 1, "name": "a", "at": datetime(2026, 1, 1), "data": None, "touched": None}
        )


def test_driver_errors_are_sqlalchemy_errors(probes: Database, now: datetime) -> None:
    with probes.session() as session:
        _INSERT.execute(session, {"id": 1, "name": "same", "at": now, "data": None, "touched": now})
    with pytest.raises(IntegrityError), probes.session() as session:
        _INSERT.execute(session, {"id": 2, "name": "same", "at": now, "data": None, "touched": now})
    assert _row(probes, 2) is None


def test_runs_in_the_sessions_transaction(probes: Database, now: datetime) -> None:
    class Abort(Exception):
        pass

    with pytest.raises(Abort), probes.session() as session:
        _INSERT.execute(session, {"id": 1, "name": "a", "at": now, "data": None, "touched": now})
        raise Abort
    assert _row(probes, 1) is None


def test_updates_and_deletes_count_rows_and_keep_bound_literals(probes: Database, now: datetime) -> None:
    with probes.session() as session:
        for pk in (1, 2):
            _INSERT.execute(session, {"id": pk, "name": f"n{pk}", "at": None, "data": None, "touched": now})
        assert _RENAME.execute(session, {"pk": 2, "new": "renamed"}) == 1
        assert _RENAME.execute(session, {"pk": 9, "new": "nobody"}) == 0
        assert _DROP_FIRST.execute(session, {}) == 1
    assert _row(probes, 1) is None
    assert _row(probes, 2).name == "renamed"


def test_a_statement_needing_python_defaults_is_refused(probes: Database) -> None:
    relying_on_default = DirectWrite(insert(_PROBES), keys=["id", "name"])
    with pytest.raises(ValueError, match="touched"), probes.session() as session:
        relying_on_default.execute(session, {"id": 1, "name": "a"})


def test_expanding_parameters_are_refused(probes: Database) -> None:
    expanding = DirectWrite(delete(_PROBES).where(_PROBES.c.id.in_(bindparam("ids", expanding=True))))
    with pytest.raises(ValueError, match="expanding"), probes.session() as session:
        expanding.execute(session, {"ids": [1, 2]})


def test_reads_give_typed_rows_with_named_columns(probes: Database, now: datetime) -> None:
    later = now + timedelta(hours=1)
    with probes.session() as session:
        _INSERT.execute(
            session, {"id": 2, "name": "b-two", "at": later, "data": [1, {"x": None}], "touched": now}
        )
        _INSERT.execute(session, {"id": 1, "name": "b-one", "at": None, "data": None, "touched": now})
        _INSERT.execute(session, {"id": 3, "name": "c", "at": now, "data": "text", "touched": now})
    with probes.read_session() as session:
        rows = _NAMED.rows(session, {"pattern": "b-%"})
        assert _NAMED.first(session, {"pattern": "z%"}) is None
    assert [(r.id, r.at, r.data, r.total) for r in rows] == [
        (1, None, None, 2),
        (2, later, [1, {"x": None}], 2),
    ]
    assert rows[1].at.utcoffset() == timedelta(0)


def test_reads_see_the_transactions_own_writes(probes: Database, now: datetime) -> None:
    with probes.session() as session:
        _INSERT.execute(session, {"id": 1, "name": "b", "at": now, "data": {}, "touched": now})
        assert [r.id for r in _NAMED.rows(session, {"pattern": "%"})] == [1]


def test_what_the_session_holds_unflushed_is_seen(probes: Database, now: datetime) -> None:
    from node.store.models import Partner

    partner_state = DirectRead(select(Partner.state).where(Partner.id == bindparam("id")))
    with probes.session() as session:
        session.add(Partner(id="th-nsw", party_id="TH-NSW", state="testing"))
        assert [r.state for r in partner_state.rows(session, {"id": "th-nsw"})] == ["testing"]


def test_an_insert_returns_what_returning_names(probes: Database, now: datetime) -> None:
    insert_returning = DirectWrite(
        insert(_PROBES).returning(_PROBES.c.id, _PROBES.c.at), keys=["id", "name", "at", "data", "touched"]
    )
    with probes.session() as session:
        [row] = insert_returning.returning(
            session, {"id": 7, "name": "r", "at": now, "data": None, "touched": now}
        )
    assert (row.id, row.at) == (7, now)
    assert _row(probes, 7).name == "r"


def test_reads_on_a_plain_connection(probes: Database, now: datetime) -> None:
    with probes.session() as session:
        _INSERT.execute(session, {"id": 1, "name": "b", "at": now, "data": {"k": 1}, "touched": now})
    with probes.read_connection() as connection:
        [row] = _NAMED.rows(connection, {"pattern": "b"})
    assert (row.id, row.at, row.data) == (1, now, {"k": 1})


@pytest.mark.postgres
def test_a_connection_the_server_dropped_is_invalidated(postgres_url: str) -> None:
    from sqlalchemy.exc import DBAPIError

    database = Database.open(postgres_url)
    try:
        _META.create_all(database.engine)
        with database.read_connection() as connection:
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with database.engine.connect() as admin:
                admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
            with pytest.raises(DBAPIError) as raised:
                _NAMED.rows(connection, {"pattern": "%"})
            assert raised.value.connection_invalidated
            assert connection.invalidated
        with database.read_connection() as connection:  # the pool hands out a live one
            assert _NAMED.rows(connection, {"pattern": "%"}) == []
    finally:
        database.close()
