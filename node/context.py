"""NodeContext: everything a running node's components share, handed to each `attach(ctx, root)`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from node.config import NodeConfig

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from node.audit import AuditLog
    from node.partners import PartnerDirectory
    from node.store import BlobStore, Database
    from protocols.as4.security import SigningIdentity

__all__ = ["Clock", "NodeContext", "utc_now"]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default clock: an aware UTC datetime."""
    return datetime.now(UTC)


@dataclass
class NodeContext:
    """The running node's shared parts. Built once by node.service; components never build their own."""

    config: NodeConfig
    db: Database
    blobs: BlobStore
    reactor: Any
    signing: SigningIdentity
    partners: PartnerDirectory
    audit: AuditLog
    metrics: CollectorRegistry
    clock: Clock = utc_now
    # Components may hang small shared objects here by their module name (e.g. "node.lifecycle").
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def party_id(self) -> str:
        return self.config.party_id
