"""Operations endpoints: Prometheus /metrics, /health (the process answers) and /ready (DB and keys), JSON."""

from __future__ import annotations

import json
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from twisted.internet import defer
from twisted.web import resource, server

from node.context import NodeContext
from node.metrics import MetricsRefresher, for_registry

__all__ = ["HealthResource", "MetricsResource", "ReadyResource", "attach", "stop"]

READY_TIMEOUT = 5.0
_running: list[MetricsRefresher] = []


def _json(request: server.Request, status: int, body: dict[str, Any]) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", b"application/json")
    request.setHeader(b"Cache-Control", b"no-store")
    return json.dumps(body).encode()


class MetricsResource(resource.Resource):
    isLeaf = True

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__()
        self._registry = ctx.metrics

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"Content-Type", CONTENT_TYPE_LATEST.encode())
        return generate_latest(self._registry)


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
    for_registry(ctx.metrics)
    root.putChild(b"metrics", MetricsResource(ctx))
    root.putChild(b"health", HealthResource())
    root.putChild(b"ready", ReadyResource(ctx))
    refresher = MetricsRefresher(ctx, interval=interval)
    _running.append(refresher)
    ctx.reactor.callWhenRunning(refresher.start)


def stop() -> None:
    for refresher in _running:
        refresher.stop()
    _running.clear()
