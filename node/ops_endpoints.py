"""Operations endpoints: Prometheus /metrics, /health (the process answers) and /ready (DB and keys), JSON.

/metrics asks for `Authorization: Bearer <token>` when node.yaml sets `metrics: {token: ...}` or
`metrics: {token_file: PATH}` (read at start, relative to the node directory); without either it is
open, like /health and /ready, and belongs behind the reverse proxy. The token is never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from twisted.internet import defer
from twisted.web import resource, server

from node.config import NODE_FILE, ConfigError, NodeConfig
from node.context import NodeContext
from node.metrics import MetricsRefresher, for_registry

__all__ = ["HealthResource", "MetricsResource", "ReadyResource", "attach", "metrics_token", "stop"]

READY_TIMEOUT = 5.0
MIN_TOKEN_LENGTH = 16
_METRICS_KEYS = ("token", "token_file")
_running: list[MetricsRefresher] = []


def _json(request: server.Request, status: int, body: dict[str, Any]) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", b"application/json")
    request.setHeader(b"Cache-Control", b"no-store")
    return json.dumps(body).encode()


def metrics_token(config: NodeConfig) -> str | None:
    """node.yaml `metrics:` → the bearer token Prometheus must send, or None (open); ConfigError names
    the key and never shows the token."""
    section = config.section("metrics")
    for key in section:
        if key not in _METRICS_KEYS:
            raise ConfigError(NODE_FILE, f"metrics.{key}", f"unknown key (known: {', '.join(_METRICS_KEYS)})")
    if "token" in section and "token_file" in section:
        raise ConfigError(NODE_FILE, "metrics", "set token or token_file, not both")
    if "token_file" in section:
        name = section["token_file"]
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(NODE_FILE, "metrics.token_file", "must be the path of a file holding the token")
        try:
            token = (config.directory / Path(name)).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(NODE_FILE, "metrics.token_file", f"cannot be read: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(NODE_FILE, "metrics.token_file", "is not UTF-8 text") from None
        return _checked(token, "metrics.token_file")
    if "token" in section:
        return _checked(section["token"], "metrics.token")
    return None


def _checked(token: Any, key: str) -> str:
    if (
        not isinstance(token, str)
        or len(token) < MIN_TOKEN_LENGTH
        or not token.isprintable()
        or any(c.isspace() for c in token)
    ):
        raise ConfigError(
            NODE_FILE, key, f"the token must be at least {MIN_TOKEN_LENGTH} printable characters, no spaces"
        )
    return token


def _digest(value: bytes) -> bytes:
    # Compared as digests: equal lengths, so the time taken says nothing about the token's length.
    return hashlib.sha256(value).digest()


class MetricsResource(resource.Resource):
    """Prometheus text; with a `token`, only for `Authorization: Bearer <token>` (else 401)."""

    isLeaf = True

    def __init__(self, ctx: NodeContext, token: str | None = None) -> None:
        super().__init__()
        self._registry = ctx.metrics
        self._token = _digest(token.encode()) if token is not None else None

    def render_GET(self, request: server.Request) -> bytes:
        if self._token is not None and not self._authorised(request):
            request.setHeader(b"WWW-Authenticate", b'Bearer realm="aswnode-metrics"')
            return _json(request, 401, {"error": "needs Authorization: Bearer <the metrics token>"})
        request.setHeader(b"Content-Type", CONTENT_TYPE_LATEST.encode())
        return generate_latest(self._registry)

    def _authorised(self, request: server.Request) -> bool:
        header = request.getHeader(b"authorization") or b""
        scheme, _, token = header.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(_digest(token.strip()), self._token or b"")


class HealthResource(resource.Resource):
    isLeaf = True

    def render_GET(self, request: server.Request) -> bytes:
        return _json(request, 200, {"status": "up"})


def _ping(session: Any) -> bool:
    session.execute(text("SELECT 1"))
    return True


class ReadyResource(resource.Resource):
    """200 when the database answers within READY_TIMEOUT and the signing keys are loaded, else 503."""

    isLeaf = True

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__()
        self._ctx = ctx

    def render_GET(self, request: server.Request) -> object:
        gone = [False]
        request.notifyFinish().addBoth(lambda _: gone.__setitem__(0, True))
        d = defer.ensureDeferred(self._checks())

        def answer(checks: dict[str, str]) -> None:
            if gone[0]:
                return
            ok = all(v == "ok" for v in checks.values())
            body = _json(
                request, 200 if ok else 503, {"status": "ready" if ok else "not ready", "checks": checks}
            )
            request.write(body)
            request.finish()

        d.addCallback(answer)
        return server.NOT_DONE_YET

    async def _checks(self) -> dict[str, str]:
        checks = {"keys": "ok" if self._ctx.signing is not None else "signing identity not loaded"}
        try:
            query = self._ctx.db.read(_ping)
            query.addTimeout(READY_TIMEOUT, self._ctx.reactor)
            await query
            checks["database"] = "ok"
        except defer.TimeoutError:
            checks["database"] = f"no answer within {READY_TIMEOUT:g} s"
        except Exception as exc:
            checks["database"] = f"unreachable: {exc.__class__.__name__}"
        return checks


def attach(ctx: NodeContext, root: resource.Resource, *, interval: float = 15.0) -> None:
    """Mount /metrics, /health, /ready on `root`; refresh the DB gauges every `interval` s once running."""
    token = metrics_token(ctx.config)
    for_registry(ctx.metrics)
    root.putChild(b"metrics", MetricsResource(ctx, token))
    root.putChild(b"health", HealthResource())
    root.putChild(b"ready", ReadyResource(ctx))
    refresher = MetricsRefresher(ctx, interval=interval)
    _running.append(refresher)
    ctx.reactor.callWhenRunning(refresher.start)


def stop() -> None:
    for refresher in _running:
        refresher.stop()
    _running.clear()
