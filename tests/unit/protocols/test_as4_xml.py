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


@pytest.mark.parametrize(
    "data",
    [
        # An external parameter entity in UTF-16: the byte check cannot see "<!DOCTYPE"; libxml2 would
        # read the file during the parse (here /dev/zero: a thread spinning for ever).
        '<!DOCTYPE r [<!ENTITY % p SYSTEM "file:///dev/zero">%p;]><r/>'.encode("utf-16"),
        # UTF-16 with a BOM and no declaration: lxml reports UTF-8, the prefix count saw no "xmlns".
        ('<r xmlns:a="urn:a" xmlns:b="urn:b"/>').encode("utf-16"),
        "<r/>".encode("utf-16-le"),
        "<r/>".encode("utf-16-be"),
        "<r/>".encode("utf-32"),
        b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE r+AD4-+ADw-r/+AD4-',
        b'<?xml version="1.0" encoding="UTF-16"?><r/>',
    ],
    ids=[
        "utf16-external-pe",
        "utf16-bom-no-declaration",
        "utf16le",
        "utf16be",
        "utf32",
        "utf7",
        "declared-utf16",
    ],
)
def test_only_encodings_that_write_markup_as_ascii_are_parsed(data: bytes) -> None:
    with pytest.raises(EbmsException, match=r"XML must be UTF-8|is refused") as refused:
        parse_xml(data, error=EbmsError.INVALID_HEADER)
    assert refused.value.error is EbmsError.INVALID_HEADER


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0" encoding="ISO-8859-1"?><r a="\xe9"/>',
        b"\xef\xbb\xbf<r/>",
        b"<?xml version='1.0' encoding='utf-8'?><r/>",
    ],
)
def test_utf8_latin1_and_a_utf8_bom_are_parsed(data: bytes) -> None:
    assert parse_xml(data).tag == "r"


def test_the_parser_reads_no_external_resource_even_for_a_document_it_will_refuse(tmp_path) -> None:
    from lxml import etree

    from protocols.as4 import xml

    # A broken file: had libxml2 read it, its syntax error would say so (a file-content oracle).
    broken = tmp_path / "broken.dtd"
    broken.write_text("<!ENTITY broken")
    document = f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{broken.as_uri()}">%p;]><r/>'
    for encoded in (document.encode(), document.encode("utf-16")):
        with pytest.raises(ValueError, match=r"external resource .* refused"):
            etree.fromstring(encoded, xml._parser())
