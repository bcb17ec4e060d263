"""Fixtures for the protocol tests: two real RSA-2048 identities and a small user message."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from protocols.as4.model import CollaborationInfo, MessageInfo, Party, PartyId, Service, UserMessage
from protocols.as4.namespaces import (
    DEFAULT_ROLE_INITIATOR,
    DEFAULT_ROLE_RESPONDER,
    PARTYID_TYPE_UNREGISTERED,
    TEST_ACTION,
    TEST_SERVICE,
)
from protocols.as4.pmode import PMode
from protocols.as4.security import SigningIdentity

NOW = dt.datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=dt.UTC)


def make_identity(common_name: str) -> SigningIdentity:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=365))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return SigningIdentity(key, certificate)


@pytest.fixture(scope="session")
def alice() -> SigningIdentity:
    return make_identity("alice")


@pytest.fixture(scope="session")
def bob() -> SigningIdentity:
    return make_identity("bob")


@pytest.fixture(scope="session")
def mallory() -> SigningIdentity:
    return make_identity("alice")


def user_message(message_id: str | None = None) -> UserMessage:
    return UserMessage(
        message_info=MessageInfo(message_id or f"{uuid.uuid4()}@aswnode.test", NOW),
        from_party=Party((PartyId("alice", PARTYID_TYPE_UNREGISTERED),), DEFAULT_ROLE_INITIATOR),
        to_party=Party((PartyId("bob", PARTYID_TYPE_UNREGISTERED),), DEFAULT_ROLE_RESPONDER),
        collaboration_info=CollaborationInfo(Service(TEST_SERVICE), TEST_ACTION, "conv-1"),
    )


def pmode(**overrides: object) -> PMode:
    data: dict[str, object] = {
        "id": "alice-to-bob",
        "initiator": {"party_id": "alice"},
        "responder": {"party_id": "bob"},
        "service": TEST_SERVICE,
        "action": TEST_ACTION,
    }
    data.update(overrides)
    return PMode.from_dict(data)


@pytest.fixture
def make_user_message() -> Callable[..., UserMessage]:
    return user_message


@pytest.fixture
def make_pmode() -> Callable[..., PMode]:
    return pmode
