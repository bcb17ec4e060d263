"""Hostile XML is refused with a clear error: XXE, entity bombs, deep nesting, wrong namespace, oversize."""

from __future__ import annotations

import pytest

from mappings import xmlsafe
from mappings.errors import MappingError
from mappings.registry import profile

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<r>&x;</r>"""

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lolz>&lol4;</lolz>"""

EXTERNAL_DTD = b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd"><r/>'


def refused(data: bytes, **limits: int) -> str:
    with pytest.raises(MappingError) as caught:
        xmlsafe.parse(data, **limits)
    return caught.value.code


@pytest.mark.parametrize("data", [XXE, BOMB, EXTERNAL_DTD], ids=["xxe", "billion-laughs", "external-dtd"])
def test_documents_with_a_dtd_are_refused(data: bytes) -> None:
    assert refused(data) == "xml-dtd-forbidden"


def test_a_dtd_hidden_in_utf16_is_refused() -> None:
    assert (
        refused(XXE.replace(b'<?xml version="1.0"?>', b"").decode().encode("utf-16"))
        == "xml-encoding-refused"
    )


@pytest.mark.parametrize(
    "data",
    [
        # An external parameter entity in UTF-16: libxml2 read it during the parse (here /dev/zero).
        '<!DOCTYPE r [<!ENTITY % p SYSTEM "file:///dev/zero">%p;]><r/>'.encode("utf-16"),
        "<r/>".encode("utf-16-le"),
        "<r/>".encode("utf-32"),
        b'<?xml version="1.0" encoding="UTF-7"?>+ADw-r/+AD4-',
    ],
    ids=["utf16-external-pe", "utf16le", "utf32", "utf7"],
)
def test_only_encodings_that_write_markup_as_ascii_are_read(data: bytes) -> None:
    assert refused(data) == "xml-encoding-refused"


def test_no_external_resource_is_read_while_parsing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from lxml import etree

    broken = tmp_path / "broken.dtd"
    broken.write_text("<!ENTITY broken")  # had it been read, its syntax error would say so
    document = f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{broken.as_uri()}">%p;]><r/>'.encode()
    parser = etree.XMLParser(**xmlsafe._PARSER_OPTIONS)
    parser.resolvers.add(xmlsafe._RefuseExternal())
    with pytest.raises(ValueError, match=r"external resource .* refused"):
        etree.fromstring(document, parser)


def test_deep_nesting_is_refused() -> None:
    assert refused(b"<a>" * 65 + b"</a>" * 65) == "xml-too-deep"
    assert refused(b"<a>" * 5000 + b"</a>" * 5000) in ("xml-too-deep", "xml-not-well-formed")


def test_nesting_within_the_limit_is_read() -> None:
    assert xmlsafe.parse(b"<a>" * 64 + b"</a>" * 64).tag == "a"


def test_oversize_documents_are_refused_before_parsing() -> None:
    assert refused(b"<a>" + b" " * 2048 + b"</a>", max_bytes=1024) == "xml-too-large"


def test_not_well_formed_and_not_bytes_are_refused() -> None:
    assert refused(b"<a><b></a>") == "xml-not-well-formed"
    with pytest.raises(MappingError):
        xmlsafe.parse("<a/>")  # type: ignore[arg-type]


def test_the_wrong_root_or_namespace_is_refused() -> None:
    assert refused(b'<r xmlns="urn:x"/>', root="{urn:y}r") == "wrong-root"


@pytest.mark.parametrize("document_type", ["eco", "ephyto"])
def test_profiles_refuse_hostile_documents(document_type: str) -> None:
    for data in (XXE, BOMB, b"<a>" * 200 + b"</a>" * 200):
        with pytest.raises(MappingError):
            profile(document_type).from_treaty(data)
