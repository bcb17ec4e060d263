"""The ministry API under /api/v1: submissions, inbox (pull + ack), OpenAPI; it also runs inbound delivery.

`attach(ctx, root)` mounts it and starts node.delivery's webhook pump once the reactor
runs; `stop()` stops the pump. The ministries come from node.yaml `ministries:`, reread when
the file changes (node.api.live_ministries): tokens and certificate pins apply without a restart.
"""

from __future__ import annotations

from typing import Any

from twisted.web import resource

from node.api.live_ministries import LiveMinistries
from node.api.ministries import MinistryConfigError, MinistryRegistry, parse_ministries
from node.api.router import ApiCall, ApiResource, JsonAnswer, Route
from node.context import NodeContext

__all__ = ["API_PATH", "api_resource", "attach", "ministries_of", "ministry_client_cas", "stop"]

API_PATH = (b"api", b"v1")
_running: list[Any] = []


def ministries_of(ctx: NodeContext) -> LiveMinistries:
    """The configured ministries, one live view per context: a bad entry at start is a ConfigError for
    node.yaml; later edits of the file are picked up at the next look-up (a bad one is logged, not used)."""
    cached = ctx.extras.get("node.api.ministries")
    if cached is None:
        from node.config import NODE_FILE, ConfigError

        try:
            registry = parse_ministries(ctx.config.raw.get("ministries"), ctx.config.directory)
        except MinistryConfigError as exc:
            raise ConfigError(NODE_FILE, exc.key, exc.message) from None
        cached = LiveMinistries(ctx.config.directory / NODE_FILE, registry)
        ctx.extras["node.api.ministries"] = cached
    return cached


def ministry_client_cas(ctx: NodeContext) -> tuple[Any, ...]:
    """The CAs of the ministries' client certificates (node.yaml `ministries.<id>.client_ca`)."""
    return ministries_of(ctx).client_cas()


def api_resource(
    ctx: NodeContext, ministries: MinistryRegistry | LiveMinistries | None = None
) -> ApiResource:
    """The /api/v1 leaf resource with every route."""
    # Imported here: node.submissions (imported by these) uses node.api.errors, so not at package import.
    from node.api import inbox_routes, submission_routes
    from node.api.auth import Authenticator
    from node.api.openapi import document

    ministries = ministries if ministries is not None else ministries_of(ctx)

    async def openapi(call: ApiCall) -> JsonAnswer:
        return JsonAnswer(200, document())

    routes: tuple[Route, ...] = (
        *submission_routes.routes(ctx),
        *inbox_routes.routes(ctx),
        Route("GET", "openapi.json", openapi, public=True),
    )
    return ApiResource(routes, Authenticator(ministries))


def attach(ctx: NodeContext, root: resource.Resource, *, deliver: bool = True) -> None:
    """Mount /api/v1 on `root`; with `deliver`, start the delivery service when the reactor runs."""
    from node.delivery import DeliveryService

    ministries = ministries_of(ctx)
    api = root.children.get(API_PATH[0])
    if api is None:
        api = resource.Resource()
        root.putChild(API_PATH[0], api)
    api.putChild(API_PATH[1], api_resource(ctx, ministries))
    from node.metrics import for_registry

    service = DeliveryService(ctx, ministries, on_attempt=for_registry(ctx.metrics).webhook_attempt)
    ctx.extras["node.delivery"] = service
    if deliver:
        _running.append(service)
        ctx.reactor.callWhenRunning(service.start)


def stop() -> Any:
    from twisted.internet import defer

    stopping = [defer.maybeDeferred(s.stop) for s in _running]
    _running.clear()
    return defer.DeferredList(stopping, consumeErrors=True)
