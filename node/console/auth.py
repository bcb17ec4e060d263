"""Log in and out: password check off the reactor thread, throttling, a fresh session and cookie."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from twisted.internet.threads import deferToThreadPool

from node.console.passwords import verify_password
from node.console.sessions import COOKIE_NAME, credential_digest
from node.console.web import LOGIN_COOKIE, ConsoleRequest, Forbidden, Redirect, Response, Route, url

if TYPE_CHECKING:
    from node.console.app import Console

__all__ = ["ROUTES"]

# Checked when the operator id is unknown, so a wrong id costs the same time as a wrong password.
_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def _safe_next(target: str) -> str:
    if target.startswith("/") and not target.startswith("//") and "\\" not in target and target != "/login":
        return url(target)
    return url("/")


def _login_page(console: Console, req: ConsoleRequest, *, error: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    req.set_cookie(LOGIN_COOKIE, token, max_age=3600)
    return console.render(
        req,
        "login.html",
        status=status,
        login_token=token,
        error=error,
        next=req.get("next"),
        user=req.get("id"),
    )


async def login_form(console: Console, req: ConsoleRequest) -> Response | Redirect:
    if req.session is not None:
        return Redirect(_safe_next(req.get("next", "/")))
    return _login_page(console, req)


async def login(console: Console, req: ConsoleRequest) -> Response | Redirect:
    expected = req.cookie(LOGIN_COOKIE)
    given = req.get("csrf")
    if not expected or not given or not secrets.compare_digest(expected, given) or not req.same_origin():
        raise Forbidden("the login form is stale; reload the page")
    operator_id = req.get("id").lower()
    password = req.params.get("password", "")
    wait = console.throttle.retry_after(operator_id, req.client)
    if wait is not None:
        await console.audit(
            req, "console.login", f"operator:{operator_id}", {"reason": "throttled"}, "refused"
        )
        minutes = max(1, -(-int(wait.total_seconds()) // 60))
        error = f"Too many failed attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}."
        return _login_page(console, req, error=error, status=429)
    operator = console.operators().get(operator_id)
    encoded = operator.password_hash if operator is not None and not operator.disabled else _DUMMY_HASH
    reactor = console.ctx.reactor
    ok = await deferToThreadPool(reactor, reactor.getThreadPool(), verify_password, password, encoded)
    if not ok or operator is None or operator.disabled:
        console.throttle.failed(operator_id, req.client)
        await console.audit(
            req, "console.login", f"operator:{operator_id}", {"reason": "bad credentials"}, "refused"
        )
        return _login_page(console, req, error="Wrong operator id or password.", status=401)
    console.throttle.succeeded(operator_id)
    if req.session is not None:
        await console.sessions.close(req.session.id)
    req.session = await console.sessions.open(
        operator.id, credential=credential_digest(operator.password_hash)
    )
    req.set_cookie(COOKIE_NAME, req.session.id)
    req.clear_cookie(LOGIN_COOKIE)
    await console.audit(req, "console.login", f"operator:{operator.id}", {}, "ok")
    return Redirect(_safe_next(req.get("next", "/")))


async def logout(console: Console, req: ConsoleRequest) -> Redirect:
    assert req.session is not None
    await console.audit(req, "console.logout", f"operator:{req.session.operator}", {}, "ok")
    await console.sessions.close(req.session.id)
    req.clear_cookie(COOKIE_NAME)
    return Redirect(url("/login"))


ROUTES = (
    Route("GET", r"/login", login_form, public=True),
    Route("POST", r"/login", login, public=True),
    Route("POST", r"/logout", logout),
)
