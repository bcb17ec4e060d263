"""Alembic environment: migrates the connection handed in by node.store.schema (or config's url)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import node.store  # noqa: F401  (loads every model module onto Base.metadata)
from node.store.models import Base

config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    from node.store.types import UtcDateTime

    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "node.store.types.UtcDateTime()"
    return False


def _configure(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
        render_item=_render_item,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
