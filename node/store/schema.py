"""Creating and upgrading the schema with Alembic, from the package (no alembic.ini needed)."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

__all__ = ["MIGRATIONS", "alembic_config", "current_revision", "head_revision", "upgrade_to_head"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Several nodes starting at once on one PostgreSQL database upgrade one at a time.
_PG_MIGRATION_LOCK = 0x61737701
# Alembic's context is process-global: one migration at a time in this process.
_PROCESS_LOCK = threading.Lock()


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_to_head(engine: Engine, revision: str = "head") -> None:
    """`alembic upgrade head` on this engine, serialised across threads and processes."""
    with _PROCESS_LOCK, engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            connection.commit()
        try:
            command.upgrade(alembic_config(connection), revision)
            connection.commit()
        finally:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                connection.commit()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def autogenerate(rev_id: str, message: str) -> None:
    """Write a new revision: the difference between head (on a scratch SQLite) and Base.metadata."""
    import tempfile

    from sqlalchemy import create_engine

    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite:///{scratch}/scratch.db")
        upgrade_to_head(engine)
        with engine.connect() as connection:
            command.revision(alembic_config(connection), message=message, autogenerate=True, rev_id=rev_id)
        engine.dispose()


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 4 or sys.argv[1] != "autogenerate":
        sys.exit("usage: python -m node.store.schema autogenerate REV_ID MESSAGE")
    autogenerate(sys.argv[2], sys.argv[3])
