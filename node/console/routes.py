"""Every console route in one table, gathered from the view modules."""

from __future__ import annotations

from node.console import (
    assets,
    audit_views,
    auth,
    dashboard,
    incidents,
    messages,
    partner_actions,
    partner_new,
    partners,
    runs,
)
from node.console.web import Route

__all__ = ["ROUTES"]

ROUTES: tuple[Route, ...] = (
    *auth.ROUTES,
    *assets.ROUTES,
    *dashboard.ROUTES,
    *partner_new.ROUTES,  # before partners: /partners/new is not a partner
    *partners.ROUTES,
    *partner_actions.ROUTES,
    *runs.ROUTES,
    *incidents.ROUTES,
    *messages.ROUTES,
    *audit_views.ROUTES,
)
