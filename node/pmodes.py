"""The P-Modes the node uses with a partner: defaults, overridden per partner by partners.yaml `pmode:`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from protocols.as4.pmode import PMode, PModeError

if TYPE_CHECKING:
    from node.config import NodeConfig
    from node.partners import Partner

__all__ = [
    "DEFAULT_DUPLICATE_WINDOW_SECONDS",
    "check_overrides",
    "inbound_pmode",
    "inbound_policy",
    "outbound_pmode",
]

# Longer than any retry horizon of the default reliability (5 retries, at most an hour apart).
DEFAULT_DUPLICATE_WINDOW_SECONDS = 30 * 24 * 3600.0
# Keys of a partner's `pmode:` that the node reads itself (not part of the protocol P-Mode).
_NODE_KEYS = ("collaborations",)
# Stand-ins for what a partners.yaml override does not name when it is checked on its own.
_CHECK_PARTY, _CHECK_SERVICE, _CHECK_ACTION = "aswnode-check", "urn:aswnode:check", "Check"


def _overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in dict(overrides).items() if k not in _NODE_KEYS}


def _pmode(
    overrides: Mapping[str, Any],
    *,
    pmode_id: str,
    initiator: Mapping[str, Any],
    responder: Mapping[str, Any],
    service: Any,
    action: str,
    address: str | None,
    agreement: Any = None,
) -> PMode:
    """The protocol P-Mode with the partner's overrides applied (PModeError names a bad key)."""
    own = _overrides(overrides)
    reliability = own.pop("reliability", None)
    if reliability is None:
        reliability = {}
    if isinstance(reliability, Mapping):
        reliability = dict(reliability)
        reliability.setdefault("duplicate_window_seconds", DEFAULT_DUPLICATE_WINDOW_SECONDS)
    data: dict[str, Any] = {
        "id": pmode_id,
        "initiator": initiator,
        "responder": responder,
        "service": service,
        "action": action,
        "address": address,
        "reliability": reliability,
        **own,
    }
    if agreement and "agreement" not in own:
        data["agreement"] = agreement
    return PMode.from_dict(data)


_OUTBOUND: dict[tuple[int, str, str, str | None, str], tuple[Partner, PMode]] = {}
_OUTBOUND_LIMIT = 512


def outbound_pmode(
    config: NodeConfig, partner: Partner, *, service: str, service_type: str | None, action: str
) -> PMode:
    """The leg we push to `partner` for this service and action (PModeError names a bad override).

    Kept per partner object (a reload of partners.yaml makes new ones): built once, not per message."""
    key = (id(partner), config.party_id, service, service_type, action)
    cached = _OUTBOUND.get(key)
    if cached is not None and cached[0] is partner:
        return cached[1]
    pmode = _outbound_pmode(config, partner, service=service, service_type=service_type, action=action)
    if len(_OUTBOUND) >= _OUTBOUND_LIMIT:
        _OUTBOUND.clear()
    _OUTBOUND[key] = (partner, pmode)
    return pmode


def _outbound_pmode(
    config: NodeConfig, partner: Partner, *, service: str, service_type: str | None, action: str
) -> PMode:
    return _pmode(
        partner.pmode_overrides,
        pmode_id=f"{config.party_id}->{partner.id}",
        initiator={"party_id": config.party_id, "party_id_type": config.party_id_type},
        responder={"party_id": partner.party_id, "party_id_type": partner.config.party_id_type},
        service={"value": service, "type": service_type} if service_type else service,
        action=action,
        address=partner.endpoint,
        agreement=partner.config.agreement,
    )


def check_overrides(overrides: Mapping[str, Any]) -> None:
    """Raise PModeError (the key's path inside `pmode:`) unless a partner's overrides make a usable P-Mode.

    protocols.as4.pmode.PMode.from_dict decides (strict and typed, `inbound:` included);
    `collaborations` is checked by node.collaborations."""
    if not isinstance(overrides, Mapping):
        raise PModeError("pmode", "must be a mapping")
    _pmode(
        overrides,
        pmode_id=_CHECK_PARTY,
        initiator={"party_id": _CHECK_PARTY},
        responder={"party_id": _CHECK_PARTY},
        service=_CHECK_SERVICE,
        action=_CHECK_ACTION,
        address=None,
    )


_INBOUND: dict[int, tuple[Mapping[str, Any], PMode]] = {}


def inbound_pmode(partner: Partner) -> PMode:
    """The leg `partner` pushes to us, as far as partners.yaml says (its reliability and inbound policy)."""
    overrides = partner.pmode_overrides
    cached = _INBOUND.get(id(overrides))
    if cached is not None and cached[0] is overrides:
        return cached[1]
    pmode = _pmode(
        overrides,
        pmode_id=f"{partner.id}->",
        initiator={"party_id": partner.party_id},
        responder={"party_id": _CHECK_PARTY},
        service=_CHECK_SERVICE,
        action=_CHECK_ACTION,
        address=None,
    )
    if len(_INBOUND) > 1024:
        _INBOUND.clear()
    _INBOUND[id(overrides)] = (overrides, pmode)
    return pmode


def inbound_policy(
    partner: Partner, *, service: str | None = None, action: str | None = None
) -> Mapping[str, Any]:
    """What we require of the partner's messages: `require_encryption` and the duplicate-elimination
    window in seconds, from the partner's P-Mode (protocols.as4.pmode.InboundPolicy).

    Given the message's `service` and `action`, encryption is required as the P-Mode says (by default
    of every business message; the ebMS3 test service's test action is exempt). Without them the
    caller cannot tell a test message, so only an explicit `inbound.require_encryption: true` is
    enforced. A loaded partner's overrides were checked (node.partners), so no PModeError here."""
    pmode = inbound_pmode(partner)
    if service is not None and action is not None:
        require = pmode.inbound.requires_encryption(service, action)
    else:
        explicit = partner.pmode_overrides.get("inbound") or {}
        require = explicit.get("require_encryption") is True
    return {
        "require_encryption": require,
        "duplicate_window_seconds": pmode.reliability.duplicate_window_seconds,
    }
