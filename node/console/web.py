"""The console's HTTP plumbing: the request as views see it, the responses they return, security headers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from twisted.web.server import Request

from node.console.sessions import Session

__all__ = [
    "LOGIN_COOKIE",
    "PREFIX",
    "ConsoleRequest",
    "Forbidden",
    "NotFound",
    "Redirect",
    "Response",
    "Route",
    "apply_security_headers",
    "url",
]

PREFIX = "/console"
LOGIN_COOKIE = b"aswnode_console_login"

# Everything the pages need comes from the node itself: no CDN, no inline script or style.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
_SECURITY_HEADERS = {
    b"Content-Security-Policy": _CSP.encode(),
    b"X-Frame-Options": b"DENY",
    b"X-Content-Type-Options": b"nosniff",
    # "no-referrer" would make browsers send `Origin: null` on form posts, which the origin check refuses.
    b"Referrer-Policy": b"same-origin",
    b"Cross-Origin-Opener-Policy": b"same-origin",
    b"Cross-Origin-Resource-Policy": b"same-origin",
    b"Permissions-Policy": b"camera=(), microphone=(), geolocation=(), payment=()",
}


def apply_security_headers(request: Request, *, cacheable: bool = False) -> None:
    for name, value in _SECURITY_HEADERS.items():
        request.setHeader(name, value)
    if request.isSecure():
        request.setHeader(b"Strict-Transport-Security", b"max-age=31536000")
    request.setHeader(b"Cache-Control", b"private, max-age=3600" if cacheable else b"no-store")


def url(path: str = "", **query: Any) -> str:
    """A console URL; empty query values are left out."""
    q = {k: v for k, v in query.items() if v not in (None, "")}
    return PREFIX + path + ("?" + urlencode(q) if q else "")


@dataclass(frozen=True, slots=True)
class Response:
    body: bytes
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Redirect:
    location: str
    status: int = 303

    def __post_init__(self) -> None:
        if not self.location.startswith(PREFIX):
            raise ValueError("the console redirects only inside itself")


class NotFound(Exception):
    """The page names something that does not exist."""


class Forbidden(Exception):
    """A request the console refuses (bad CSRF token, foreign origin)."""


def _decode(values: Mapping[bytes, list[bytes]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, vals in values.items():
        if vals:
            out[key.decode("utf-8", "replace")] = vals[-1].decode("utf-8", "replace").strip()
    return out


@dataclass
class ConsoleRequest:
    """What a view sees: method, path below /console, query and form fields as text, the session."""

    raw: Request
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    session: Session | None = None

    @classmethod
    def wrap(cls, request: Request, path: str) -> ConsoleRequest:
        params = _decode(request.args or {})
        return cls(raw=request, method=request.method.decode("ascii", "replace"), path=path, params=params)

    @property
    def operator(self) -> str:
        assert self.session is not None
        return self.session.operator

    @property
    def client(self) -> str:
        peer = self.raw.getClientAddress()
        return getattr(peer, "host", "unknown")

    def get(self, name: str, default: str = "") -> str:
        return self.params.get(name, default)

    def cookie(self, name: bytes) -> str | None:
        value = self.raw.getCookie(name)
        return value.decode("ascii", "replace") if value else None

    def set_cookie(self, name: bytes, value: str, *, max_age: int | None = None) -> None:
        self.raw.addCookie(
            name,
            value.encode("ascii"),
            path=PREFIX.encode(),
            httpOnly=True,
            secure=self.raw.isSecure(),
            sameSite="strict",
            max_age=str(max_age).encode() if max_age is not None else None,
        )

    def clear_cookie(self, name: bytes) -> None:
        self.set_cookie(name, "", max_age=0)

    def same_origin(self) -> bool:
        """A browser's Origin (when sent) must be this host: a second line behind the CSRF token."""
        origin = self.raw.getHeader(b"origin")
        if origin is None or origin == b"null":
            return origin is None
        host = self.raw.getHeader(b"host") or b""
        return origin.split(b"://", 1)[-1] == host


@dataclass(frozen=True, slots=True)
class Route:
    """`pattern` is a regular expression over the path below /console; its named groups go to the view."""

    method: str
    pattern: str
    view: Any
    public: bool = False
