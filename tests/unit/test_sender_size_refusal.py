"""When our sender takes a partner's HTTP 413 for its word that the message is too large (node.outbound)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from certs.pki import self_signed
from node.outbound import REFUSAL_FRESHNESS, _refused_as_too_large
from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.inbound import ErrorOutcome, read_response
from protocols.as4.outbound import OutboundMessage, build_error_signal
from protocols.as4.payload import InMemory
from protocols.as4.security import SigningIdentity

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def partner() -> SigningIdentity:
    return SigningIdentity(*self_signed("partner", unit="AS4 message signing", tls=False))


@pytest.fixture(scope="module")
def stranger() -> SigningIdentity:
    return SigningIdentity(*self_signed("partner", unit="AS4 message signing", tls=False))


def _answer(
    signer: SigningIdentity | None, at: datetime, trusted: SigningIdentity, *, ref: str | None = None
):  # type: ignore[no-untyped-def]
    """The partner's error signal as our sender reads it (read_response, trusting `trusted`)."""
    error = EbmsException(EbmsError.OTHER, "over this gateway's limit of 65536 bytes", ref_to_message_id=ref)
    signal = build_error_signal((error,), signing=signer, message_id="err@partner", now=at)
    sent = OutboundMessage("sent@us", "application/soap+xml", InMemory(b""), ())
    outcome = read_response(
        signal.body, signal.content_type, sent=sent, partner_certificates=[trusted.certificate]
    )
    assert isinstance(outcome, ErrorOutcome)
    return outcome


def test_a_fresh_413_signed_by_the_partner_is_its_refusal(partner: SigningIdentity) -> None:
    assert _refused_as_too_large(413, _answer(partner, NOW, partner), NOW)
    late = NOW - REFUSAL_FRESHNESS + timedelta(seconds=1)
    assert _refused_as_too_large(413, _answer(partner, late, partner), NOW)


def test_anything_else_is_retried(partner: SigningIdentity, stranger: SigningIdentity) -> None:
    assert not _refused_as_too_large(413, _answer(None, NOW, partner), NOW)  # unsigned: a proxy's
    assert not _refused_as_too_large(413, _answer(stranger, NOW, partner), NOW)  # not the partner's key
    old = NOW - REFUSAL_FRESHNESS - timedelta(seconds=1)
    assert not _refused_as_too_large(413, _answer(partner, old, partner), NOW)  # replayed
    assert not _refused_as_too_large(500, _answer(partner, NOW, partner), NOW)  # not a size refusal
