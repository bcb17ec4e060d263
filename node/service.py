"""The running node: build its NodeContext, mount its components, start and stop it cleanly."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from twisted.internet import defer, task

from node.config import ConfigError, NodeConfig
from node.context import NodeContext, utc_now
from node.nodedir import load_signing_identity
from node.partners import PartnerDirectory

__all__ = ["COMPONENTS", "RunningNode", "attach_components", "build_context", "stop_components"]

log = logging.getLogger("aswnode.service")

# Components other helpers own, mounted by module name (NODE-CONTRACT.md).
PARTNERS_WATCH_SECONDS = 2.0
COMPONENTS = ("node.api", "node.ops_endpoints", "node.console", "node.lifecycle", "node.housekeeping")


def build_context(config: NodeConfig, reactor: Any, *, clock: Any = utc_now) -> NodeContext:
    """Open everything the node's components share: database, blobs, keys, partners, audit, metrics."""
    from prometheus_client import CollectorRegistry

    from node.audit import AuditLog
    from node.store.blobs import BlobStore
    from node.store.database import Database

    config.var_dir.mkdir(parents=True, exist_ok=True)
    config.spool_dir.mkdir(parents=True, exist_ok=True)
    db = Database.open(config.database_url, reactor=reactor)
    return NodeContext(
        config=config,
        db=db,
        blobs=BlobStore(config.blob_dir),
        reactor=reactor,
        signing=load_signing_identity(config),
        partners=PartnerDirectory(config.directory),
        audit=AuditLog(clock),
        metrics=CollectorRegistry(),
        clock=clock,
    )


def attach_components(ctx: NodeContext, root: Any) -> list[Any]:
    """`attach(ctx, root)` of every component; one that does not import or has no attach fails start-up."""
    attached = []
    for name in COMPONENTS:
        module = importlib.import_module(name)
        attach = getattr(module, "attach", None)
        if attach is None:
            raise AttributeError(f"component {name} has no attach(ctx, root)")
        attach(ctx, root)
        attached.append(module)
    return attached


def stop_components(ctx: NodeContext, modules: list[Any]) -> defer.Deferred[None]:
    results = []
    for module in modules:
        stop = getattr(module, "stop", None)
        if stop is not None:
            try:
                results.append(defer.maybeDeferred(stop))
            except Exception:  # a component's failure to stop must not keep the node up
                log.exception("stopping %s failed", module.__name__)
    return defer.DeferredList(results, consumeErrors=True).addCallback(lambda _: None)


class RunningNode:
    """A started node: its context, listening port, sender and components; `stop()` is the clean stop."""

    def __init__(self, ctx: NodeContext) -> None:
        from node.outbound import Sender
        from node.server import build_site

        self.ctx = ctx
        self.site, self.root = build_site(ctx)
        self.components = attach_components(ctx, self.root)
        self.sender = Sender(ctx)
        ctx.extras["node.outbound"] = self.sender
        self.port: Any = None
        self.tls: Any = None
        self.scheduler: Any = None
        self._watch: Any = None

    async def start(self) -> None:
        from node.server import listen
        from node.tls import ServerTLS

        config = self.ctx.config
        if config.listen.tls:
            assert config.keys.tls_key is not None and config.keys.tls_cert is not None
            from node.api import ministry_client_cas

            self.tls = ServerTLS(
                config.keys.tls_key,
                config.keys.tls_cert,
                self.ctx.partners.tls_client_cas(),
                ministry_client_cas=ministry_client_cas(self.ctx),
            )
        self.port = listen(self.ctx, self.site, tls=self.tls)
        if self.tls is not None:
            from node.api import ministries_of

            self.ctx.partners.listeners.append(
                lambda partners: self.tls.update_client_cas(partners.tls_client_cas())
            )
            ministries_of(self.ctx).listeners.append(self._trust_ministry_cas)
        self._watch = task.LoopingCall(self._watch_partners)
        self._watch.clock = self.ctx.reactor
        self._watch.start(PARTNERS_WATCH_SECONDS, now=False)
        starters = [m for m in self.components if hasattr(m, "start")]
        if starters:
            from apscheduler.schedulers.twisted import TwistedScheduler

            self.scheduler = TwistedScheduler(reactor=self.ctx.reactor, timezone="UTC")
            for module in starters:
                module.start(self.ctx, self.scheduler)
            self.scheduler.start()
        await self.sender.start()
        log.info("aswnode %s listening on %s", config.party_id, self.endpoint)

    @property
    def listening_port(self) -> int:
        return int(self.port.getHost().port)

    @property
    def endpoint(self) -> str:
        config = self.ctx.config
        scheme = "https" if config.listen.tls else "http"
        return f"{scheme}://{config.listen.host}:{self.listening_port}/as4"

    def reload_partners(self) -> None:
        """Reread partners.yaml; the TLS client CAs follow (a listener of the directory)."""
        self.ctx.partners.reload()

    def _watch_partners(self) -> None:
        """partners.yaml, and node.yaml's ministries' client CAs: the TLS server trusts what they say now
        (a ministry whose CA is new could not complete a handshake, so no API request would reload it)."""
        try:
            if self.ctx.partners.maybe_reload():
                log.info("partners.yaml changed: %d partner(s) loaded", len(self.ctx.partners))
        except ConfigError as exc:
            log.error("partners.yaml changed but does not load, keeping the partners we have: %s", exc)
        if self.tls is not None:
            from node.api import ministries_of

            # Rereads node.yaml if it changed (its listeners follow); one that does not load keeps the
            # ministries we have (and says so once).
            ministries_of(self.ctx).current()

    def _trust_ministry_cas(self, ministries: Any) -> None:
        if self.tls.update_ministry_cas(ministries.client_cas()):
            log.info("node.yaml changed: the ministries' client CAs are trusted from the next connection")

    async def stop(self) -> None:
        """Stop accepting, answer what is being received, let in-flight sends finish, close."""
        log.info("stopping: no new connections; finishing what is in flight")
        if self._watch is not None and self._watch.running:
            self._watch.stop()
        if self.port is not None:
            await defer.maybeDeferred(self.port.stopListening)
        await self.root.as4.drain()
        await self.sender.stop()
        log.info("stopping: sender stopped")
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        await stop_components(self.ctx, self.components)
        log.info("stopping: components stopped")
        self.ctx.db.close()
        log.info("stopped")
