"""The console's one door to the lifecycle helper's service layer (node.lifecycle, node.conntest).

The console never applies a lifecycle rule itself: every action goes through these calls,
which import the service functions where they live.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LifecycleUnavailable", "open_incidents"]


class LifecycleUnavailable(Exception):
    """The lifecycle service this action needs is not part of this node (yet)."""


def open_incidents(ctx: Any, session: Any) -> tuple[Any, ...]:
    """Incidents not yet closed (Art. 14), newest first; () when the node has no incident service."""
    try:
        from node.lifecycle import incidents
    except ImportError:
        return ()
    return tuple(incidents.open_incidents(session))
