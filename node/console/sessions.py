"""Operator sessions: random ids, a CSRF token each, an idle timeout, kept in the node's database so
a restart keeps operators logged in and several nodes behind a load balancer share them."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session as DbSession

from node.console.session_models import ConsoleSession

__all__ = ["COOKIE_NAME", "Session", "SessionStore", "credential_digest"]

COOKIE_NAME = b"aswnode_console"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def credential_digest(password_hash: str) -> str:
    """What a session keeps of the operator's password hash at login: a new password ends the session."""
    return _digest(password_hash)


@dataclass(slots=True)
class Session:
    """One logged-in operator; `csrf` must come back with every POST."""

    id: str
    operator: str
    csrf: str
    created: datetime
    last_seen: datetime
    credential: str = ""  # credential_digest of the password hash at login
    flashes: list[tuple[str, str]] = field(default_factory=list)
    dirty: bool = False  # flashes changed: SessionStore.save writes them

    def flash(self, text: str, kind: str = "ok") -> None:
        """A one-line message for the next page this operator sees (kind: ok | error)."""
        self.flashes.append((kind, text))
        self.dirty = True

    def take_flashes(self) -> list[tuple[str, str]]:
        out, self.flashes = self.flashes, []
        self.dirty = self.dirty or bool(out)
        return out

    def csrf_matches(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.csrf.encode())


class SessionStore:
    """Sessions by id in the database; one idle longer than `idle_timeout` (or older than `max_age`) is gone.

    Every method runs its transaction off the reactor thread (`db.run`) and returns a Deferred."""

    def __init__(
        self,
        db: Any,
        clock: Callable[[], datetime],
        *,
        idle_timeout: timedelta = timedelta(minutes=15),
        max_age: timedelta = timedelta(hours=12),
    ) -> None:
        self._db = db
        self.clock = clock
        self.idle_timeout = idle_timeout
        self.max_age = max_age

    async def open(self, operator: str, *, credential: str = "") -> Session:
        now = self.clock()
        session = Session(
            secrets.token_urlsafe(32), operator, secrets.token_urlsafe(32), now, now, credential
        )
        await self._db.run(self._insert, session)
        return session

    def _insert(self, s: DbSession, session: Session) -> None:
        now = session.created
        s.execute(
            delete(ConsoleSession).where(
                or_(
                    ConsoleSession.last_seen_at < now - self.idle_timeout,
                    ConsoleSession.created_at < now - self.max_age,
                )
            )
        )
        s.add(
            ConsoleSession(
                id_digest=_digest(session.id),
                operator=session.operator,
                csrf=session.csrf,
                credential=session.credential,
                created_at=session.created,
                last_seen_at=session.last_seen,
                flashes=[],
            )
        )

    async def get(self, session_id: str | None) -> Session | None:
        """The live session, its idle clock reset; None when unknown or expired."""
        if not session_id or len(session_id) > 128:
            return None
        result: Session | None = await self._db.run(self._touch, session_id, self.clock())
        return result

    def _touch(self, s: DbSession, session_id: str, now: datetime) -> Session | None:
        row = s.get(ConsoleSession, _digest(session_id))
        if row is None:
            return None
        if now - row.last_seen_at > self.idle_timeout or now - row.created_at > self.max_age:
            s.delete(row)
            return None
        row.last_seen_at = now
        flashes = [(str(kind), str(text)) for kind, text in (row.flashes or [])]
        return Session(session_id, row.operator, row.csrf, row.created_at, now, row.credential, flashes)

    async def save(self, session: Session) -> None:
        """Write the session's flashes (when they changed during the request)."""
        if session.dirty:
            await self._db.run(self._save, _digest(session.id), [list(f) for f in session.flashes])
            session.dirty = False

    @staticmethod
    def _save(s: DbSession, id_digest: str, flashes: list[list[str]]) -> None:
        row = s.get(ConsoleSession, id_digest)
        if row is not None:
            row.flashes = flashes

    async def close(self, session_id: str) -> None:
        await self._db.run(
            lambda s: s.execute(delete(ConsoleSession).where(ConsoleSession.id_digest == _digest(session_id)))
        )

    async def close_operator(self, operator: str) -> None:
        await self._db.run(
            lambda s: s.execute(delete(ConsoleSession).where(ConsoleSession.operator == operator))
        )
