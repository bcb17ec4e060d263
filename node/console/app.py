"""The console as a twisted.web resource: routing, login enforcement, CSRF, rendering, auditing."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from node.console.operators import Operator, read_operators
from node.console.ratelimit import LoginThrottle
from node.console.sessions import COOKIE_NAME, SessionStore, credential_digest
from node.console.web import (
    PREFIX,
    ConsoleRequest,
    Forbidden,
    NotFound,
    Redirect,
    Response,
    Route,
    apply_security_headers,
    url,
)

__all__ = ["Console", "ConsoleResource"]

_log = Logger(namespace="node.console")
TEMPLATES = Path(__file__).parent / "templates"
NAV = (
    ("Dashboard", "/"),
    ("Partners", "/partners"),
    ("Messages", "/messages"),
    ("Incidents", "/incidents"),
    ("Audit log", "/audit"),
)


class _OperatorsFile:
    """node.yaml's operators, re-read when the file changes (an operator removed is refused at once)."""

    def __init__(self, node_yaml: Path) -> None:
        self.path = node_yaml
        self._stamp: tuple[int, int] | None = None
        self._operators: dict[str, Operator] = {}

    def __call__(self) -> dict[str, Operator]:
        st = self.path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._operators = read_operators(self.path)
            self._stamp = stamp
        return self._operators


class Console:
    """One node's console: its sessions, login throttle, templates and the context it reads."""

    def __init__(
        self,
        ctx: Any,
        *,
        operators: Callable[[], dict[str, Operator]] | None = None,
        idle_timeout: timedelta = timedelta(minutes=15),
        routes: Iterable[Route] | None = None,
    ) -> None:
        self.ctx = ctx
        self.sessions = SessionStore(ctx.db, ctx.clock, idle_timeout=idle_timeout)
        self.throttle = LoginThrottle(ctx.clock)
        self.operators = operators or _OperatorsFile(Path(ctx.config.directory) / "node.yaml")
        self.templates = Environment(
            loader=FileSystemLoader(str(TEMPLATES)),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.globals.update(url=url, nav=NAV)
        self.templates.filters["when"] = _when
        if routes is None:
            from node.console.routes import ROUTES

            routes = ROUTES
        self.routes = tuple((r, re.compile(r.pattern + r"\Z")) for r in routes)
        self.extras: dict[str, Any] = {}

    # -- rendering -------------------------------------------------------------------------------------------

    def render(self, req: ConsoleRequest, template: str, *, status: int = 200, **values: Any) -> Response:
        session = req.session
        body = self.templates.get_template(template).render(
            operator=session.operator if session else None,
            csrf=session.csrf if session else "",
            party_id=getattr(self.ctx.config, "party_id", ""),
            environment=getattr(self.ctx.config, "environment", ""),
            now=self.ctx.clock(),
            path=req.path,
            flashes=session.take_flashes() if session else [],
            **values,
        )
        return Response(body.encode("utf-8"), status=status)

    # -- auditing --------------------------------------------------------------------------------------------

    def audit_in(
        self,
        session: Any,
        req: ConsoleRequest,
        action: str,
        subject: str,
        detail: dict[str, Any],
        status: str,
    ) -> None:
        """Append the operator's action to the audit chain inside the caller's transaction."""
        self.ctx.audit.append(
            session,
            actor=self.actor(req),
            action=action,
            subject=subject,
            detail={"client": req.client, **detail},
            request_digest=self.request_digest(req, detail),
            status=status,
            form="console",
        )

    @staticmethod
    def actor(req: ConsoleRequest) -> str:
        """Who acts, as the audit chain names them."""
        return f"operator:{req.session.operator}" if req.session else f"anonymous@{req.client}"

    @staticmethod
    def request_digest(req: ConsoleRequest, detail: dict[str, Any]) -> str:
        """The audited digest of a console request: its path and what the action recorded of it."""
        body = json.dumps({"path": req.path, "detail": detail}, sort_keys=True, default=str).encode()
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def audit(
        self, req: ConsoleRequest, action: str, subject: str, detail: dict[str, Any], status: str = "ok"
    ) -> Deferred[None]:
        return self.ctx.db.run(lambda s: self.audit_in(s, req, action, subject, detail, status))

    # -- dispatch --------------------------------------------------------------------------------------------

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        method = "GET" if method == "HEAD" else method
        for route, rx in self.routes:
            m = rx.match(path)
            if m and route.method == method:
                return route, m.groupdict()
        return None

    async def handle(self, request: Request) -> Response | Redirect:
        path = "/" + "/".join(p.decode("utf-8", "replace") for p in request.postpath)
        req = ConsoleRequest.wrap(request, path)
        found = self.match(req.method, path)
        if found is None:
            if any(rx.match(path) for _, rx in self.routes):
                return Response(b"method not allowed\n", status=405, content_type="text/plain")
            raise NotFound(path)
        route, groups = found
        req.session = await self.sessions.get(req.cookie(COOKIE_NAME))
        if req.session is not None and not self._still_allowed(req.session):
            await self.sessions.close(req.session.id)
            req.session = None
        if not route.public:
            if req.session is None:
                if req.method in ("GET", "HEAD"):
                    return Redirect(url("/login", next=path if path != "/" else None))
                raise Forbidden("log in first")
            csrf_ok = req.same_origin() and req.session.csrf_matches(req.params.get("csrf"))
            if req.method == "POST" and not csrf_ok:
                raise Forbidden("the form's CSRF token is missing or stale; reload the page")
        try:
            return await route.view(self, req, **groups)
        finally:
            if req.session is not None:
                await self.sessions.save(req.session)

    def _still_allowed(self, session: Any) -> bool:
        """The operator is still in node.yaml, enabled, with the password the session was opened with."""
        operator = self.operators().get(session.operator)
        return (
            operator is not None
            and not operator.disabled
            and credential_digest(operator.password_hash) == session.credential
        )


class ConsoleResource(Resource):
    """Mounted at /console; every request goes through `Console.handle`."""

    isLeaf = True

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console

    def render(self, request: Request) -> Any:
        apply_security_headers(request)
        d = Deferred.fromCoroutine(self.console.handle(request))
        d.addCallbacks(self._write, self._failed, callbackArgs=(request,), errbackArgs=(request,))
        request.notifyFinish().addErrback(lambda _f: None)
        return NOT_DONE_YET

    def _write(self, result: Response | Redirect, request: Request) -> None:
        if request._disconnected:
            return
        if isinstance(result, Redirect):
            request.setResponseCode(result.status)
            request.setHeader(b"Location", result.location.encode("utf-8"))
            body = b""
        else:
            request.setResponseCode(result.status)
            request.setHeader(b"Content-Type", result.content_type.encode())
            for name, value in result.headers:
                request.setHeader(name.encode(), value.encode())
            body = result.body
        request.setHeader(b"Content-Length", str(len(body)).encode())
        if request.method != b"HEAD":
            request.write(body)
        request.finish()

    def _failed(self, failure: Failure, request: Request) -> None:
        if failure.check(NotFound):
            response = _plain_page("Not found", "There is nothing here.", 404)
        elif failure.check(Forbidden):
            response = _plain_page("Refused", str(failure.value), 403)
        else:
            ref = secrets.token_hex(4)
            _log.failure("console request failed (ref {ref})", failure=failure, ref=ref)
            response = _plain_page("Internal error", f"The node logged this error as ref {ref}.", 500)
        self._write(response, request)


def _plain_page(title: str, text: str, status: int) -> Response:
    from markupsafe import escape

    body = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<link rel="stylesheet" href="{PREFIX}/static/console.css"></head><body class="plain">'
        f"<main><h1>{escape(title)}</h1><p>{escape(text)}</p>"
        f'<p><a href="{PREFIX}/">Back to the console</a></p>'
        "</main></body></html>"
    )
    return Response(body.encode(), status=status)


def _when(value: Any) -> str:
    if value is None:
        return "—"
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)
