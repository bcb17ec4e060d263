"""Alembic's head is exactly the models' metadata, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from node.store.database import Database
from node.store.models import Base
from node.store.schema import alembic_config, current_revision, head_revision, upgrade_to_head


def test_upgrade_head_on_an_empty_database_yields_exactly_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_open_leaves_the_database_at_head_and_a_second_open_changes_nothing(db: Database) -> None:
    assert current_revision(db.engine) == head_revision()
    tables = set(inspect(db.engine).get_table_names())
    upgrade_to_head(db.engine)
    again = Database.open(db.url)
    try:
        assert current_revision(again.engine) == head_revision()
        assert set(inspect(again.engine).get_table_names()) == tables
    finally:
        again.close()


def test_every_model_table_is_created_by_the_migrations(db: Database) -> None:
    assert set(Base.metadata.tables) <= set(inspect(db.engine).get_table_names())


def test_the_audit_chain_head_row_exists_after_upgrade(db: Database) -> None:
    with db.session() as session:
        assert session.execute(text("SELECT head_seq, anchor_seq FROM audit_chain")).all() == [(0, 1)]


def test_the_migrations_go_down_to_nothing_and_up_again(db: Database) -> None:
    with db.engine.connect() as connection:
        command.downgrade(alembic_config(connection), "base")
        connection.commit()
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade_to_head(db.engine)
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_importing_the_store_alone_puts_every_table_on_the_metadata() -> None:
    """The console's and the lifecycle's tables are on Base.metadata without importing their packages."""
    import subprocess
    import sys

    probe = (
        "import node.store\n"
        "from node.store.models import Base\n"
        "wanted = ('console_sessions', 'certificate_registrations')\n"
        "print(sorted(t for t in wanted if t in Base.metadata.tables))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['certificate_registrations', 'console_sessions']"
