"""Every store test runs on SQLite (a temporary file) and on PostgreSQL (a throwaway database)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from node.store.database import Database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/node.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database.open(db_url)
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=UTC)
