"""P-Modes load from plain dicts; every mistake names its key path."""

from __future__ import annotations

from typing import Any

import pytest

from protocols.as4.namespaces import (
    ALG_AES256_GCM,
    ALG_RSA_OAEP_MGF1P,
    DEFAULT_ROLE_INITIATOR,
    MEP_BINDING_PUSH,
    MEP_ONE_WAY,
    PARTYID_TYPE_UNREGISTERED,
    TEST_ACTION,
    TEST_SERVICE,
)
from protocols.as4.pmode import InboundPolicy, PMode, PModeError, ReliabilityPolicy

BASE: dict[str, Any] = {
    "id": "vn-to-th",
    "initiator": {"party_id": "VN-NSW"},
    "responder": {"party_ids": [{"value": "TH-NSW", "type": "urn:asw:party"}], "role": "urn:asw:receiver"},
    "service": {"value": "urn:asw:eco", "type": "urn:asw:services"},
    "action": "Submit",
    "agreement": "urn:asw:atiga",
}


def test_minimal_pmode_gets_the_eDelivery_defaults() -> None:
    pmode = PMode.from_dict(BASE)
    assert pmode.initiator.party_ids[0].type == PARTYID_TYPE_UNREGISTERED
    assert pmode.initiator.role == DEFAULT_ROLE_INITIATOR
    assert pmode.responder.party_ids[0].type == "urn:asw:party"
    assert (pmode.mep, pmode.mep_binding) == (MEP_ONE_WAY, MEP_BINDING_PUSH)
    assert pmode.security.sign and pmode.security.encrypt and pmode.compress
    assert pmode.receipt.required and pmode.receipt.non_repudiation
    assert pmode.agreement is not None and pmode.agreement.value == "urn:asw:atiga"


def test_security_and_reliability_options_are_read() -> None:
    pmode = PMode.from_dict(
        {
            **BASE,
            "security": {"encryption_algorithm": "aes256-gcm", "key_transport": "rsa-oaep-mgf1p",
                         "encryption_key_reference": "issuer-serial"},
            "reliability": {"retries": 3, "interval_seconds": 10, "backoff": 3,
                            "duplicate_window_seconds": 86400},
        }
    )  # fmt: skip
    assert pmode.security.encryption_algorithm == ALG_AES256_GCM
    assert pmode.security.key_transport == ALG_RSA_OAEP_MGF1P
    assert pmode.security.encryption_key_reference == "issuer-serial"
    assert pmode.reliability.retries == 3 and pmode.reliability.duplicate_window_seconds == 86400


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"action": None}, "action"),
        ({"initiator": {"role": "x"}}, "initiator.party_id"),
        ({"initiator": "VN"}, "initiator"),
        ({"security": {"sign": "yes"}}, "security.sign"),
        ({"security": {"encryption_key_reference": "thumbprint"}}, "security.encryption_key_reference"),
        ({"security": {"signature_algorithm": "rsa-md5"}}, "security.signature_algorithm"),
        ({"reliability": {"retries": -1}}, "reliability.retries"),
        ({"reliability": {"backoff": 0.5}}, "reliability.backoff"),
        ({"receipt": {"reply_pattern": "callback"}}, "receipt.reply_pattern"),
        ({"mep": "two-way"}, "mep"),
        ({"colour": "blue"}, "pmode.colour"),
        ({"responder": {"party_ids": [{"value": "x", "kind": "y"}]}}, "responder.party_ids[0].kind"),
        ({"responder": {"party_ids": "TH-NSW"}}, "responder.party_ids"),
        ({"compress": "no thanks"}, "compress"),
        ({"security": {"encrypt": "no thanks"}}, "security.encrypt"),
        ({"security": {"sign": 0}}, "security.sign"),
        ({"security": {"digest_algorithm": "http://www.w3.org/2001/04/xmldsig-more#md5"}},
         "security.digest_algorithm"),
        ({"security": {"encryption_algorithm": ["aes128-gcm"]}}, "security.encryption_algorithm"),
        ({"security": {"signature_key_reference": ["bst"]}}, "security.signature_key_reference"),
        ({"mep": ["one-way"]}, "mep"),
        ({"binding": {"push": True}}, "binding"),
        ({"reliability": {"retries": 1.5}}, "reliability.retries"),
        ({"reliability": {"retries": "3"}}, "reliability.retries"),
        ({"reliability": {"retries": True}}, "reliability.retries"),
        ({"reliability": {"interval_seconds": float("inf")}}, "reliability.interval_seconds"),
        ({"reliability": {"backoff": float("nan")}}, "reliability.backoff"),
        ({"reliability": {"duplicate_detection": 1}}, "reliability.duplicate_detection"),
        ({"reliability": {"duplicate_window_seconds": 0}}, "reliability.duplicate_window_seconds"),
        ({"reliability": {"duplicate_window_seconds": -1}}, "reliability.duplicate_window_seconds"),
        ({"reliability": {"duplicate_window_seconds": float("nan")}}, "reliability.duplicate_window_seconds"),
        ({"reliability": {"duplicate_window_seconds": "30 days"}}, "reliability.duplicate_window_seconds"),
        ({"receipt": {"required": "yes"}}, "receipt.required"),
        ({"inbound": {"require_encryption": "no thanks"}}, "inbound.require_encryption"),
        ({"inbound": {"require_encryption": None}}, "inbound.require_encryption"),
        ({"inbound": {"require_signature": False}}, "inbound.require_signature"),
        ({"inbound": "strict"}, "inbound"),
    ],
)  # fmt: skip
def test_bad_entry_raises_pmode_error_naming_the_key(change: dict[str, Any], key: str) -> None:
    data = {**BASE, **change}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(PModeError) as refused:
        PMode.from_dict(data)
    assert refused.value.key == key


def test_retry_delay_grows_by_the_backoff_up_to_the_ceiling() -> None:
    policy = ReliabilityPolicy(retries=5, interval_seconds=10, backoff=2, max_interval_seconds=50)
    assert [policy.delay_before(n) for n in range(1, 5)] == [10, 20, 40, 50]


def test_business_messages_must_be_encrypted_by_default_and_the_test_service_is_exempt() -> None:
    pmode = PMode.from_dict(BASE)
    assert pmode.inbound == InboundPolicy(require_encryption=True)
    assert pmode.inbound.requires_encryption("urn:asw:eco", "Submit") is True
    assert pmode.inbound.requires_encryption(TEST_SERVICE, TEST_ACTION) is False
    assert pmode.inbound.requires_encryption(TEST_SERVICE, "Submit") is True


def test_inbound_encryption_can_be_relaxed_explicitly_for_a_signed_only_partner() -> None:
    pmode = PMode.from_dict({**BASE, "inbound": {"require_encryption": False}})
    assert pmode.inbound.require_encryption is False
    assert pmode.inbound.requires_encryption("urn:asw:eco", "Submit") is False


def test_reliability_policy_refuses_a_window_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="duplicate_window_seconds"):
        ReliabilityPolicy(duplicate_window_seconds=0)
    with pytest.raises(ValueError, match="finite"):
        ReliabilityPolicy(backoff=float("inf"))
