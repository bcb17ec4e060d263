"""The P-Mode (ebMS 3.0 Core §D): a frozen per-partner agreement, loaded from a plain dict."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocols.as4.model import AgreementRef, Party, PartyId, Service
from protocols.as4.namespaces import (
    ALG_AES128_GCM,
    ALG_AES256_GCM,
    ALG_DIGEST_SHA256,
    ALG_DIGEST_SHA384,
    ALG_DIGEST_SHA512,
    ALG_MGF1_SHA256,
    ALG_RSA_OAEP,
    ALG_RSA_OAEP_MGF1P,
    ALG_RSA_SHA256,
    ALG_RSA_SHA384,
    ALG_RSA_SHA512,
    DEFAULT_MPC,
    DEFAULT_ROLE_INITIATOR,
    DEFAULT_ROLE_RESPONDER,
    MEP_BINDING_PUSH,
    MEP_ONE_WAY,
    PARTYID_TYPE_UNREGISTERED,
    TEST_ACTION,
    TEST_SERVICE,
)

__all__ = [
    "KEY_REFERENCE_STYLES",
    "InboundPolicy",
    "PMode",
    "PModeError",
    "ReceiptPolicy",
    "ReliabilityPolicy",
    "SecurityPolicy",
]

KEY_REFERENCE_STYLES = ("bst", "issuer-serial", "ski")
_SIGNATURE_ALGORITHMS = {
    "rsa-sha256": ALG_RSA_SHA256,
    "rsa-sha384": ALG_RSA_SHA384,
    "rsa-sha512": ALG_RSA_SHA512,
}
_DIGEST_ALGORITHMS = {"sha256": ALG_DIGEST_SHA256, "sha384": ALG_DIGEST_SHA384, "sha512": ALG_DIGEST_SHA512}
_ENCRYPTION_ALGORITHMS = {"aes128-gcm": ALG_AES128_GCM, "aes256-gcm": ALG_AES256_GCM}
_KEY_TRANSPORTS = {"rsa-oaep": ALG_RSA_OAEP, "rsa-oaep-mgf1p": ALG_RSA_OAEP_MGF1P}
_MEPS = {"one-way": MEP_ONE_WAY, MEP_ONE_WAY: MEP_ONE_WAY}
_BINDINGS = {"push": MEP_BINDING_PUSH, MEP_BINDING_PUSH: MEP_BINDING_PUSH}


class PModeError(ValueError):
    """A P-Mode that cannot be used: `key` is the dotted path of the offending entry."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


@dataclass(frozen=True, slots=True)
class SecurityPolicy:
    """PMode[1].Security: what we sign and encrypt, with which algorithms and key references."""

    sign: bool = True
    encrypt: bool = True
    signature_algorithm: str = ALG_RSA_SHA256
    digest_algorithm: str = ALG_DIGEST_SHA256
    encryption_algorithm: str = ALG_AES128_GCM
    key_transport: str = ALG_RSA_OAEP
    mgf: str = ALG_MGF1_SHA256
    signature_key_reference: str = "bst"
    encryption_key_reference: str = "bst"

    def __post_init__(self) -> None:
        for name in ("signature_key_reference", "encryption_key_reference"):
            if getattr(self, name) not in KEY_REFERENCE_STYLES:
                raise ValueError(f"{name} must be one of {', '.join(KEY_REFERENCE_STYLES)}")


@dataclass(frozen=True, slots=True)
class ReliabilityPolicy:
    """PMode[1].ReceptionAwareness: retries, their interval and backoff, duplicate detection."""

    retries: int = 5
    interval_seconds: float = 60.0
    backoff: float = 2.0
    max_interval_seconds: float = 3600.0
    duplicate_detection: bool = True
    duplicate_window_seconds: float = 7 * 24 * 3600.0

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError("retries must be 0 or more")
        if self.interval_seconds <= 0 or self.max_interval_seconds <= 0:
            raise ValueError("intervals must be positive")
        if self.backoff < 1:
            raise ValueError("backoff must be at least 1")
        for name in ("interval_seconds", "max_interval_seconds", "backoff", "duplicate_window_seconds"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be a finite number")
        if self.duplicate_window_seconds <= 0:
            raise ValueError("duplicate_window_seconds must be positive")

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        if attempt < 1:
            raise ValueError("attempts count from 1")
        return min(self.interval_seconds * self.backoff ** (attempt - 1), self.max_interval_seconds)


@dataclass(frozen=True, slots=True)
class ReceiptPolicy:
    """PMode[1].Security.SendReceipt: a signed NRR receipt on the back-channel of the same HTTP call."""

    required: bool = True
    non_repudiation: bool = True
    reply_pattern: str = "response"

    def __post_init__(self) -> None:
        if self.reply_pattern != "response":
            raise ValueError("only the 'response' reply pattern (synchronous receipt) is supported")


@dataclass(frozen=True, slots=True)
class InboundPolicy:
    """What we require of the messages the partner sends us on this leg.

    eDelivery AS4 (§2.2.6.2) encrypts every business payload, so `require_encryption` defaults to
    true; only the ebMS3 test service's test action is exempt (connection tests may be signed only).
    The duplicate-elimination window is `PMode.reliability.duplicate_window_seconds`.
    """

    require_encryption: bool = True

    def requires_encryption(self, service: str, action: str) -> bool:
        """Whether a message for `service`/`action` must carry every payload encrypted."""
        if service == TEST_SERVICE and action == TEST_ACTION:
            return False
        return self.require_encryption


@dataclass(frozen=True, slots=True)
class PMode:
    """One leg of a one-way push exchange between `initiator` (sender) and `responder`."""

    id: str
    initiator: Party
    responder: Party
    service: Service
    action: str
    agreement: AgreementRef | None = None
    mep: str = MEP_ONE_WAY
    mep_binding: str = MEP_BINDING_PUSH
    mpc: str = DEFAULT_MPC
    address: str | None = None
    compress: bool = True
    security: SecurityPolicy = SecurityPolicy()
    reliability: ReliabilityPolicy = ReliabilityPolicy()
    receipt: ReceiptPolicy = ReceiptPolicy()
    inbound: InboundPolicy = InboundPolicy()

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a P-Mode needs an id")
        if not self.action:
            raise ValueError("a P-Mode needs an action")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PMode:
        """A P-Mode from the plain mapping `partners.yaml` holds; PModeError names the bad key."""
        _mapping(data, "pmode")
        _only(data, "pmode", _TOP_KEYS)
        pmode_id = _string(data, "id", "pmode")
        service_value = data.get("service")
        if isinstance(service_value, Mapping):
            _only(service_value, "service", {"value", "type"})
            service = _build(
                "service",
                lambda: Service(
                    _string(service_value, "value", "service"),
                    _string(service_value, "type", "service", required=False),
                ),
            )
        else:
            service = _build("service", lambda: Service(_string(data, "service", "")))
        agreement = None
        if "agreement" in data and data["agreement"] is not None:
            raw = data["agreement"]
            if isinstance(raw, Mapping):
                _only(raw, "agreement", {"value", "type", "pmode"})
                agreement = _build(
                    "agreement",
                    lambda: AgreementRef(
                        _string(raw, "value", "agreement"),
                        _string(raw, "type", "agreement", required=False),
                        _string(raw, "pmode", "agreement", required=False),
                    ),
                )
            else:
                agreement = _build("agreement", lambda: AgreementRef(_string(data, "agreement", "")))
        mep = _choice(data, "mep", "", _MEPS, default="one-way")
        binding = _choice(data, "binding", "", _BINDINGS, default="push")
        security = _security(data.get("security", {}))
        reliability = _reliability(data.get("reliability", {}))
        receipt = _receipt(data.get("receipt", {}))
        inbound = _inbound(data.get("inbound", {}))
        return _build(
            "pmode",
            lambda: cls(
                id=pmode_id,
                initiator=_party(data.get("initiator"), "initiator", DEFAULT_ROLE_INITIATOR),
                responder=_party(data.get("responder"), "responder", DEFAULT_ROLE_RESPONDER),
                service=service,
                action=_string(data, "action", ""),
                agreement=agreement,
                mep=mep,
                mep_binding=binding,
                mpc=_string(data, "mpc", "", required=False) or DEFAULT_MPC,
                address=_string(data, "address", "", required=False),
                compress=_boolean(data, "compress", "", default=True),
                security=security,
                reliability=reliability,
                receipt=receipt,
                inbound=inbound,
            ),
        )


_TOP_KEYS = {
    "id", "initiator", "responder", "service", "action", "agreement", "mep", "binding", "mpc",
    "address", "compress", "security", "reliability", "receipt", "inbound",
}  # fmt: skip


def _path(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PModeError(path, "must be a mapping")
    return value


def _only(data: Mapping[str, Any], path: str, allowed: set[str]) -> None:
    for key in data:
        if key not in allowed:
            raise PModeError(_path(path, str(key)), f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _string(data: Mapping[str, Any], key: str, parent: str, *, required: bool = True) -> Any:
    value = data.get(key)
    if value is None:
        if required:
            raise PModeError(_path(parent, key), "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise PModeError(_path(parent, key), "must be a non-empty string")
    return value.strip()


def _boolean(data: Mapping[str, Any], key: str, parent: str, *, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise PModeError(_path(parent, key), "must be true or false")
    return value


def _number(data: Mapping[str, Any], key: str, parent: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PModeError(_path(parent, key), "must be a finite number")
    return float(value)


def _choice(data: Mapping[str, Any], key: str, parent: str, table: Mapping[str, str], *, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or value not in table:
        raise PModeError(
            _path(parent, key), f"must be one of {', '.join(k for k in table if '://' not in k)}"
        )
    return table[value]


def _build(path: str, make: Any) -> Any:
    try:
        return make()
    except PModeError:
        raise
    except ValueError as exc:
        raise PModeError(path, str(exc)) from None


def _party(value: Any, path: str, default_role: str) -> Party:
    data = _mapping(value, path)
    _only(data, path, {"party_id", "party_id_type", "party_ids", "role"})
    ids: list[PartyId] = []
    if "party_id" in data:
        party_type = _string(data, "party_id_type", path, required=False) or PARTYID_TYPE_UNREGISTERED
        ids.append(PartyId(_string(data, "party_id", path), party_type))
    listed = data.get("party_ids")
    if listed is not None and not isinstance(listed, list | tuple):
        raise PModeError(_path(path, "party_ids"), "must be a list")
    for index, raw in enumerate(listed or ()):
        where = f"{path}.party_ids[{index}]"
        item = _mapping(raw, where)
        _only(item, where, {"value", "type"})
        ids.append(PartyId(_string(item, "value", where), _string(item, "type", where, required=False)))
    if not ids:
        raise PModeError(_path(path, "party_id"), "is required")
    role = _string(data, "role", path, required=False) or default_role
    return Party(tuple(ids), role)


def _security(value: Any) -> SecurityPolicy:
    path = "security"
    data = _mapping(value, path)
    _only(
        data,
        path,
        {"sign", "encrypt", "signature_algorithm", "digest_algorithm", "encryption_algorithm",
         "key_transport", "signature_key_reference", "encryption_key_reference"},
    )  # fmt: skip
    for key in ("signature_key_reference", "encryption_key_reference"):
        if key in data and data[key] not in KEY_REFERENCE_STYLES:
            raise PModeError(_path(path, key), f"must be one of {', '.join(KEY_REFERENCE_STYLES)}")
    return SecurityPolicy(
        sign=_boolean(data, "sign", path, default=True),
        encrypt=_boolean(data, "encrypt", path, default=True),
        signature_algorithm=_choice(
            data, "signature_algorithm", path, _SIGNATURE_ALGORITHMS, default="rsa-sha256"
        ),
        digest_algorithm=_choice(data, "digest_algorithm", path, _DIGEST_ALGORITHMS, default="sha256"),
        encryption_algorithm=_choice(
            data, "encryption_algorithm", path, _ENCRYPTION_ALGORITHMS, default="aes128-gcm"
        ),
        key_transport=_choice(data, "key_transport", path, _KEY_TRANSPORTS, default="rsa-oaep"),
        signature_key_reference=data.get("signature_key_reference", "bst"),
        encryption_key_reference=data.get("encryption_key_reference", "bst"),
    )


def _reliability(value: Any) -> ReliabilityPolicy:
    path = "reliability"
    data = _mapping(value, path)
    _only(
        data,
        path,
        {"retries", "interval_seconds", "backoff", "max_interval_seconds", "duplicate_detection",
         "duplicate_window_seconds"},
    )  # fmt: skip
    retries = data.get("retries", 5)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise PModeError(_path(path, "retries"), "must be a whole number, 0 or more")
    for key in ("interval_seconds", "max_interval_seconds"):
        if _number(data, key, path, 1.0) <= 0:
            raise PModeError(_path(path, key), "must be positive")
    if _number(data, "backoff", path, 2.0) < 1:
        raise PModeError(_path(path, "backoff"), "must be at least 1")
    if _number(data, "duplicate_window_seconds", path, 1.0) <= 0:
        raise PModeError(_path(path, "duplicate_window_seconds"), "must be positive")
    return ReliabilityPolicy(
        retries=retries,
        interval_seconds=_number(data, "interval_seconds", path, 60.0),
        backoff=_number(data, "backoff", path, 2.0),
        max_interval_seconds=_number(data, "max_interval_seconds", path, 3600.0),
        duplicate_detection=_boolean(data, "duplicate_detection", path, default=True),
        duplicate_window_seconds=_number(data, "duplicate_window_seconds", path, 7 * 24 * 3600.0),
    )


def _receipt(value: Any) -> ReceiptPolicy:
    path = "receipt"
    data = _mapping(value, path)
    _only(data, path, {"required", "non_repudiation", "reply_pattern"})
    pattern = data.get("reply_pattern", "response")
    if pattern != "response":
        raise PModeError(_path(path, "reply_pattern"), "only 'response' (synchronous receipt) is supported")
    return ReceiptPolicy(
        required=_boolean(data, "required", path, default=True),
        non_repudiation=_boolean(data, "non_repudiation", path, default=True),
    )


def _inbound(value: Any) -> InboundPolicy:
    path = "inbound"
    data = _mapping(value, path)
    _only(data, path, {"require_encryption"})
    return InboundPolicy(require_encryption=_boolean(data, "require_encryption", path, default=True))
