"""The operator web console at /console: login, dashboard, partners and their lifecycle, messages, audit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from node.console.app import Console, ConsoleResource

__all__ = ["Console", "ConsoleResource", "attach", "stop"]

_running: list[Console] = []


def __getattr__(name: str) -> Any:
    # The web parts load on first use, so node.console.session_models (imported by the store's
    # migrations) does not pull in Twisted Web and Jinja.
    if name in ("Console", "ConsoleResource"):
        from node.console import app

        return getattr(app, name)
    raise AttributeError(name)


def attach(ctx: Any, root: Any, *, probe_interval: float = 60.0) -> Console:
    """Mount the console at /console and start the scheduled probe of the partners' endpoints."""
    from node.console.app import Console, ConsoleResource
    from node.console.probe import EndpointProbe

    console = Console(ctx)
    settings = ctx.config.section("console") if hasattr(ctx.config, "section") else {}
    probe = EndpointProbe(ctx, interval=float(settings.get("probe_interval_seconds", probe_interval)))
    console.extras["probe"] = probe
    root.putChild(b"console", ConsoleResource(console))
    ctx.reactor.callWhenRunning(probe.start)
    _running.append(console)
    return console


def stop() -> None:
    while _running:
        probe = _running.pop().extras.get("probe")
        if probe is not None:
            probe.stop()
