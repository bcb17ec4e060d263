"""Operator password hashes: scrypt with a random salt, constant-time check, malformed hashes never match."""

from __future__ import annotations

import pytest

from node.console.passwords import hash_password, verify_password


def test_a_hash_verifies_its_password_only():
    encoded = hash_password("correct horse battery staple")
    assert encoded.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse battery staple", encoded)
    assert not verify_password("correct horse battery stapl", encoded)
    assert not verify_password("", encoded)


def test_the_same_password_hashes_differently_each_time():
    assert hash_password("correct horse battery staple") != hash_password("correct horse battery staple")


def test_a_short_password_is_refused():
    with pytest.raises(ValueError, match="12 characters"):
        hash_password("short")


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "plain-text-password",
        "bcrypt$x$y",
        "scrypt$16384$8$1$!!!$???",
        "scrypt$abc$8$1$AA==$AA==",
        "scrypt$1$2",
    ],
)
def test_a_malformed_hash_never_matches_and_never_raises(encoded):
    assert verify_password("plain-text-password", encoded) is False
