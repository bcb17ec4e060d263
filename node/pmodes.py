"""The P-Modes the node uses with a partner: defaults, overridden per partner by partners.yaml `pmode:`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from node.config import NodeConfig
from node.partners import Partner
from protocols.as4.pmode import PMode

__all__ = ["DEFAULT_DUPLICATE_WINDOW_SECONDS", "inbound_policy", "outbound_pmode"]

# Longer than any retry horizon of the default reliability (5 retries, at most an hour apart).
DEFAULT_DUPLICATE_WINDOW_SECONDS = 30 * 24 * 3600.0
# Keys of a partner's `pmode:` that the node reads itself (not part of the protocol P-Mode).
_NODE_KEYS = ("inbound", "collaborations")


def _overrides(partner: Partner) -> dict[str, Any]:
    return {k: v for k, v in dict(partner.pmode_overrides).items() if k not in _NODE_KEYS}


def outbound_pmode(
    config: NodeConfig, partner: Partner, *, service: str, service_type: str | None, action: str
) -> PMode:
    """The leg we push to `partner` for this service and action (PModeError names a bad override)."""
    overrides = _overrides(partner)
    reliability = dict(overrides.pop("reliability", None) or {})
    reliability.setdefault("duplicate_window_seconds", DEFAULT_DUPLICATE_WINDOW_SECONDS)
    data: dict[str, Any] = {
        "id": f"{config.party_id}->{partner.id}",
        "initiator": {"party_id": config.party_id, "party_id_type": config.party_id_type},
        "responder": {"party_id": partner.party_id, "party_id_type": partner.config.party_id_type},
        "service": {"value": service, "type": service_type} if service_type else service,
        "action": action,
        "address": partner.endpoint,
        "reliability": reliability,
        **overrides,
    }
    if partner.config.agreement and "agreement" not in overrides:
        data["agreement"] = partner.config.agreement
    return PMode.from_dict(data)


def inbound_policy(partner: Partner) -> Mapping[str, Any]:
    """What we require of the partner's messages: `require_encryption` (default false: the eDelivery
    profile encrypts, but the ebMS3 test service and some partners' signed-only legs do not) and the
    duplicate-elimination window in seconds."""
    raw = dict(partner.pmode_overrides.get("inbound") or {})
    reliability = dict(partner.pmode_overrides.get("reliability") or {})
    return {
        "require_encryption": bool(raw.get("require_encryption", False)),
        "duplicate_window_seconds": float(
            reliability.get("duplicate_window_seconds", DEFAULT_DUPLICATE_WINDOW_SECONDS)
        ),
    }
