"""The webhook signature: HMAC-SHA256 over `timestamp.body`, sent as `X-ASW-Signature: t=<unix>,v1=<hex>`."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "SignatureError", "sign", "verify"]

SIGNATURE_HEADER = "X-ASW-Signature"


class SignatureError(ValueError):
    """The signature header is missing, malformed, stale, or does not match the body."""


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(
        secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + body, hashlib.sha256
    ).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for `body` sent at `timestamp` (seconds since the epoch)."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(secret: str, header: str | None, body: bytes, *, now: int, tolerance: int = 300) -> int:
    """What a ministry runs on receipt: checks the header against body and clock; returns the timestamp."""
    if not header:
        raise SignatureError(f"no {SIGNATURE_HEADER} header")
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError(f"malformed {SIGNATURE_HEADER} header")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        raise SignatureError(f"{SIGNATURE_HEADER} has no timestamp t=") from None
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"signature timestamp is more than {tolerance} s away from now")
    expected = _mac(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, v) for v in fields.get("v1", ())):
        raise SignatureError("signature does not match the body")
    return timestamp
