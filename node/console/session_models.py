"""The console's table on the store's Base: operator sessions, shared by every node on the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from node.store.models import Base

__all__ = ["ConsoleSession"]


class ConsoleSession(Base):
    """One logged-in operator. Only digests of the cookie value and of the password hash are kept, so
    reading the table does not let anyone act as the operator."""

    __tablename__ = "console_sessions"
    __table_args__ = (Index(None, "operator"), Index(None, "last_seen_at"))

    id_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator: Mapped[str] = mapped_column(String(64))
    csrf: Mapped[str] = mapped_column(String(64))
    credential: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    flashes: Mapped[list[Any]] = mapped_column(default=list)
