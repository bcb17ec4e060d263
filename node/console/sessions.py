"""Operator sessions: random ids, a CSRF token each, an idle timeout, held in the node's memory."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = ["COOKIE_NAME", "Session", "SessionStore"]

COOKIE_NAME = b"aswnode_console"


@dataclass(slots=True)
class Session:
    """One logged-in operator; `csrf` must come back with every POST."""

    id: str
    operator: str
    csrf: str
    created: datetime
    last_seen: datetime
    credential: str = ""  # the operator's password hash at login: a new password ends the session
    flashes: list[tuple[str, str]] = field(default_factory=list)

    def flash(self, text: str, kind: str = "ok") -> None:
        """A one-line message for the next page this operator sees (kind: ok | error)."""
        self.flashes.append((kind, text))

    def take_flashes(self) -> list[tuple[str, str]]:
        out, self.flashes = self.flashes, []
        return out

    def csrf_matches(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.csrf.encode())


@dataclass
class SessionStore:
    """Sessions by id; one idle longer than `idle_timeout` (or older than `max_age`) is gone."""

    clock: Callable[[], datetime]
    idle_timeout: timedelta = timedelta(minutes=15)
    max_age: timedelta = timedelta(hours=12)
    _sessions: dict[str, Session] = field(default_factory=dict)

    def open(self, operator: str, *, credential: str = "") -> Session:
        now = self.clock()
        session = Session(
            secrets.token_urlsafe(32), operator, secrets.token_urlsafe(32), now, now, credential
        )
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session, its idle clock reset; None when unknown or expired."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self.clock()
        if now - session.last_seen > self.idle_timeout or now - session.created > self.max_age:
            del self._sessions[session_id]
            return None
        session.last_seen = now
        return session

    def close(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def close_operator(self, operator: str) -> None:
        for sid in [s.id for s in self._sessions.values() if s.operator == operator]:
            del self._sessions[sid]
