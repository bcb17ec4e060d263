"""Every console route in one table, gathered from the view modules."""

from __future__ import annotations

from node.console import assets, audit_views, auth, dashboard, messages, partners
from node.console.web import Route

__all__ = ["ROUTES"]

ROUTES: tuple[Route, ...] = (
    *auth.ROUTES,
    *assets.ROUTES,
    *dashboard.ROUTES,
    *partners.ROUTES,
    *messages.ROUTES,
    *audit_views.ROUTES,
)
