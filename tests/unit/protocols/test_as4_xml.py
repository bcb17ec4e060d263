"""Hardened XML parsing refuses what a hostile sender could abuse."""

from __future__ import annotations

import pytest

from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.xml import parse_xml, serialize


def test_well_formed_document_parses_to_its_root() -> None:
    root = parse_xml(b'<?xml version="1.0"?><a xmlns="urn:x"><b/></a>')
    assert root.tag == "{urn:x}a"


@pytest.mark.parametrize(
    "data",
    [
        b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
        b'<!DOCTYPE a [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><a>&b;</a>',
        b'<!DOCTYPE a SYSTEM "http://example.invalid/a.dtd"><a/>',
        b"<!doctype a><a/>",
    ],
)
def test_any_document_type_declaration_is_refused(data: bytes) -> None:
    with pytest.raises(EbmsException) as refused:
        parse_xml(data)
    assert refused.value.error is EbmsError.OTHER


def test_document_over_the_size_limit_is_refused_before_parsing() -> None:
    with pytest.raises(EbmsException, match="over the limit"):
        parse_xml(b"<a>" + b"x" * 100 + b"</a>", max_bytes=50)


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    deep = b"<a>" * 30 + b"</a>" * 30
    parse_xml(deep, max_depth=30)
    with pytest.raises(EbmsException, match="deeper"):
        parse_xml(deep, max_depth=29)


def test_malformed_xml_raises_the_error_the_caller_chose() -> None:
    with pytest.raises(EbmsException) as refused:
        parse_xml(b"<a><b></a>", error=EbmsError.INVALID_HEADER)
    assert refused.value.error is EbmsError.INVALID_HEADER


def test_serialize_writes_utf8_with_a_declaration() -> None:
    assert serialize(parse_xml("<a>é</a>".encode())).startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
