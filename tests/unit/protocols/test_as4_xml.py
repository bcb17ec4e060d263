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


def _attributes(count: int) -> bytes:
    return ("<a " + " ".join(f'a{i}="1"' for i in range(count)) + "/>").encode()


def test_element_with_more_attributes_than_the_limit_is_refused() -> None:
    parse_xml(_attributes(256))
    with pytest.raises(EbmsException, match="more than 256 attributes") as refused:
        parse_xml(_attributes(257))
    assert refused.value.error is EbmsError.OTHER
    parse_xml(_attributes(300), max_attributes=300)


def test_hundred_thousand_attributes_on_one_element_are_refused_with_the_given_error() -> None:
    with pytest.raises(EbmsException) as refused:
        parse_xml(_attributes(100_000), error=EbmsError.INVALID_HEADER)
    assert refused.value.error is EbmsError.INVALID_HEADER


def _prefixes(count: int) -> bytes:
    return ("<a " + " ".join(f'xmlns:p{i}="urn:{i}"' for i in range(count)) + "><b/></a>").encode()


def test_more_distinct_namespace_prefixes_than_the_limit_are_refused() -> None:
    parse_xml(_prefixes(10), max_namespace_prefixes=10)
    with pytest.raises(EbmsException, match="namespace prefixes"):
        parse_xml(_prefixes(11), max_namespace_prefixes=10)
    with pytest.raises(EbmsException, match="namespace prefixes"):
        parse_xml(_prefixes(50_000))


def test_one_prefix_redeclared_on_every_element_is_accepted() -> None:
    document = b'<a xmlns="urn:a">' + b'<b xmlns="urn:b" xmlns:q="urn:q" q:x="1"/>' * 5000 + b"</a>"
    root = parse_xml(document, max_namespace_prefixes=2)
    assert len(root) == 5000


def test_more_elements_and_attributes_than_the_limit_are_refused() -> None:
    document = b"<a>" + b'<b c="1"/>' * 50 + b"</a>"  # 1 + 50 elements, 50 attributes
    parse_xml(document, max_nodes=101)
    with pytest.raises(EbmsException, match="more than 100 elements and attributes"):
        parse_xml(document, max_nodes=100)


def _utf16(document: bytes) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-16"?>' + document.decode()).encode("utf-16")


def test_limits_hold_in_utf16_where_counting_bytes_counts_no_markup() -> None:
    # The byte-count shortcuts are for ASCII-compatible encodings only: "xmlns" is not a byte run in UTF-16.
    with pytest.raises(EbmsException, match="namespace prefixes"):
        parse_xml(_utf16(_prefixes(11)), max_namespace_prefixes=10)
    with pytest.raises(EbmsException, match="more than 256 attributes"):
        parse_xml(_utf16(_attributes(257)))
    with pytest.raises(EbmsException, match="more than 100 elements and attributes"):
        parse_xml(_utf16(b"<a>" + b'<b c="1"/>' * 50 + b"</a>"), max_nodes=100)
    parse_xml(_utf16(_prefixes(10)), max_namespace_prefixes=10)
