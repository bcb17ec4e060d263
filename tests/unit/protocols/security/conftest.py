"""Fixtures for the security tests: real RSA identities, a minimal AS4 envelope, attachments, spools."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from lxml import etree
from security_support import FileSpool, make_envelope, make_identity

from protocols.as4.payload import Attachment, InMemory
from protocols.as4.security import SigningIdentity


@pytest.fixture(scope="session")
def alice() -> SigningIdentity:
    return make_identity("party-a")


@pytest.fixture(scope="session")
def bob() -> SigningIdentity:
    return make_identity("party-b")


@pytest.fixture(scope="session")
def mallory() -> SigningIdentity:
    """Same subject as alice, another key: trusted by nobody."""
    return make_identity("party-a")


@pytest.fixture
def envelope_for() -> Callable[..., etree._Element]:
    return make_envelope


@pytest.fixture
def payloads() -> tuple[Attachment, ...]:
    """A binary, an XML and a text attachment (the three content kinds of the SwA transform)."""
    return (
        Attachment("bin@aswnode", "application/gzip", InMemory(os.urandom(3000) + b"\r\n\n\r")),
        Attachment(
            "xml@aswnode",
            "application/xml",
            InMemory(
                b'<?xml version="1.0"?>\n<a:doc xmlns:a="urn:a" xmlns:unused="urn:u">\n'
                b' <a:x b="1"  a="2"/>\n</a:doc>'
            ),
        ),
        Attachment(
            "txt@aswnode", "text/plain; charset=utf-8", InMemory(b"line one\nline two\rline three\r\n")
        ),
    )


@pytest.fixture
def file_spool(tmp_path: object) -> Callable[[], FileSpool]:
    return lambda: FileSpool(str(tmp_path))
