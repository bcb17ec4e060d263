"""The algorithm table: the eDelivery AS4 defaults, and refusal with the right code for the rest."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes

from protocols.as4 import namespaces as ns
from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.security.algorithms import (
    DEFAULT_ENCRYPTION,
    DEFAULT_SIGNATURE,
    EncryptionAlgorithms,
    SignatureAlgorithms,
    data_key_size,
    digest_name,
    oaep_padding,
    signature_hash,
)


def test_defaults_are_the_edelivery_profile():
    assert SignatureAlgorithms(ns.ALG_RSA_SHA256, ns.ALG_DIGEST_SHA256) == DEFAULT_SIGNATURE
    assert (
        EncryptionAlgorithms(ns.ALG_RSA_OAEP, ns.ALG_DIGEST_SHA256, ns.ALG_MGF1_SHA256, ns.ALG_AES128_GCM)
        == DEFAULT_ENCRYPTION
    )


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (ns.ALG_RSA_SHA256, hashes.SHA256),
        (ns.ALG_RSA_SHA384, hashes.SHA384),
        (ns.ALG_RSA_SHA512, hashes.SHA512),
    ],
)
def test_signature_methods_in_the_table(uri, expected):
    assert isinstance(signature_hash(uri), expected)


@pytest.mark.parametrize(
    "uri", [ns.ALG_RSA_SHA1, ns.ALG_EDDSA_ED25519, "http://www.randomcrypt.com/random", None]
)
def test_other_signature_methods_fail_authentication(uri):
    with pytest.raises(EbmsException) as caught:
        signature_hash(uri)
    assert caught.value.error is EbmsError.FAILED_AUTHENTICATION


@pytest.mark.parametrize("uri", [ns.ALG_DIGEST_SHA1, "urn:md5", ""])
def test_other_digests_fail_authentication(uri):
    with pytest.raises(EbmsException) as caught:
        digest_name(uri)
    assert caught.value.error is EbmsError.FAILED_AUTHENTICATION


def test_digests_in_the_table():
    assert [digest_name(u) for u in (ns.ALG_DIGEST_SHA256, ns.ALG_DIGEST_SHA384, ns.ALG_DIGEST_SHA512)] == [
        "sha256",
        "sha384",
        "sha512",
    ]


def test_oaep_takes_the_declared_digest_and_mgf():
    oaep = oaep_padding(ns.ALG_RSA_OAEP, ns.ALG_DIGEST_SHA384, ns.ALG_MGF1_SHA512)
    assert isinstance(oaep.algorithm, hashes.SHA384)
    assert isinstance(oaep.mgf._algorithm, hashes.SHA512)


def test_oaep_defaults_to_sha1_when_nothing_is_declared():
    oaep = oaep_padding(ns.ALG_RSA_OAEP, None, None)
    assert isinstance(oaep.algorithm, hashes.SHA1)
    assert isinstance(oaep.mgf._algorithm, hashes.SHA1)


def test_mgf1p_keeps_mgf1_sha1_with_a_declared_digest():
    oaep = oaep_padding(ns.ALG_RSA_OAEP_MGF1P, ns.ALG_DIGEST_SHA256, None)
    assert isinstance(oaep.algorithm, hashes.SHA256)
    assert isinstance(oaep.mgf._algorithm, hashes.SHA1)


@pytest.mark.parametrize(
    ("transport", "digest", "mgf"),
    [
        ("http://www.w3.org/2001/04/xmlenc#rsa-1_5", None, None),
        (ns.ALG_RSA_OAEP, "urn:md5", None),
        (ns.ALG_RSA_OAEP, None, "urn:mgf-unknown"),
        (ns.ALG_RSA_OAEP_MGF1P, None, ns.ALG_MGF1_SHA256),
    ],
)
def test_other_key_transports_fail_decryption(transport, digest, mgf):
    with pytest.raises(EbmsException) as caught:
        oaep_padding(transport, digest, mgf)
    assert caught.value.error is EbmsError.FAILED_DECRYPTION


def test_data_encryption_table():
    assert data_key_size(ns.ALG_AES128_GCM) == 16
    assert data_key_size(ns.ALG_AES256_GCM) == 32
    for refused in (ns.ALG_AES128_CBC, ns.ALG_AES192_GCM, None):
        with pytest.raises(EbmsException) as caught:
            data_key_size(refused)
        assert caught.value.error is EbmsError.FAILED_DECRYPTION


def test_choices_outside_the_table_cannot_be_configured():
    with pytest.raises(ValueError, match="signature method"):
        SignatureAlgorithms(signature_method=ns.ALG_RSA_SHA1)
    with pytest.raises(ValueError, match="digest method"):
        SignatureAlgorithms(digest_method=ns.ALG_DIGEST_SHA1)
    with pytest.raises(ValueError, match="data encryption"):
        EncryptionAlgorithms(data_encryption=ns.ALG_AES256_CBC)
    with pytest.raises(ValueError, match="MGF"):
        EncryptionAlgorithms(mgf="urn:mgf-unknown")


def test_rsa_oaep_mgf1p_always_uses_mgf1_sha1():
    assert EncryptionAlgorithms(key_transport=ns.ALG_RSA_OAEP_MGF1P).mgf == ns.ALG_MGF1_SHA1
