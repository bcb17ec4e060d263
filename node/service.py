"""The running node: build its NodeContext, mount its components, start and stop it cleanly."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from twisted.internet import defer

from node.config import NodeConfig
from node.context import NodeContext, utc_now
from node.nodedir import load_signing_identity
from node.partners import PartnerDirectory

__all__ = ["COMPONENTS", "attach_components", "build_context"]

log = logging.getLogger("aswnode.service")

# Components other helpers own, mounted by module name (NODE-CONTRACT.md).
COMPONENTS = ("node.api", "node.ops_endpoints", "node.console", "node.lifecycle")


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
    """`attach(ctx, root)` of every component present; a missing module is skipped with a log line."""
    attached = []
    for name in COMPONENTS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                log.warning("component %s is not there yet: not mounted", name)
                continue
            raise
        attach = getattr(module, "attach", None)
        if attach is None:
            log.warning("component %s has no attach(ctx, root): not mounted", name)
            continue
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
