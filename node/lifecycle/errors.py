"""The one error the procedure raises when the law or the procedure does not allow an operation now."""

from __future__ import annotations

__all__ = ["LifecycleError"]


class LifecycleError(Exception):
    """An operation the law or the procedure does not allow now: one line for the operator."""
