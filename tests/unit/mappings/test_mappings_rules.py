"""The rule engine: building in rule order, keyed elements, indexed steps, lenient reading."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from mappings.errors import MappingError
from mappings.rules import BOOLEAN, DECIMAL, INTEGER, Each, Keyed, Leaf, build, read, rows

RULES = (
    Leaf("id", "fd:Id"),
    Leaf("weight/value", "fd:Weight", DECIMAL),
    Leaf("weight/unit", "fd:Weight/@unitCode"),
    Keyed("fd:Note", "fd:Subject", "A", (Leaf(".", "fd:Content"),), field="notes"),
    Keyed("fd:Note", "fd:Subject", "B", (Leaf("marks", "fd:Content"),)),
    Each("lines", "fd:Lines/fd:Line", (Leaf("n", "fd:N", INTEGER), Leaf("ok", "fd:Ok", BOOLEAN))),
    Keyed("fd:Char", "fd:Desc", "TT", (Leaf("chemical", "fd:Desc[1]"),)),
)


def built(document: dict[str, Any]) -> etree._Element:
    root = etree.Element("{urn:aswnode:eformd:1}Root")
    build(RULES, document, root)
    return root


def test_build_writes_in_rule_order_and_read_gives_the_document_back() -> None:
    document = {
        "id": "X1",
        "weight": {"value": 12.5, "unit": "KGM"},
        "notes": ["first", "second"],
        "marks": "M",
        "lines": [{"n": 1, "ok": True}, {"n": 2, "ok": False}],
        "chemical": "238",
    }
    root = built(document)
    names = [etree.QName(c).localname for c in root]
    assert names == ["Id", "Weight", "Note", "Note", "Note", "Lines", "Char"]
    assert [c.text for c in root[5]] == [None, None]  # Line elements hold children only
    back: dict[str, Any] = {}
    read(RULES, root, back)
    assert back == document


def test_keyed_elements_without_a_value_are_not_written() -> None:
    root = built({"id": "X"})
    assert [etree.QName(c).localname for c in root] == ["Id"]


def test_reading_ignores_empty_elements_and_order() -> None:
    root = built({"id": "X", "marks": "M", "weight": {"value": 1, "unit": "KGM"}})
    root[:] = list(reversed(root))
    etree.SubElement(root, "{urn:aswnode:eformd:1}Id")  # an empty duplicate after the real one
    back: dict[str, Any] = {}
    read(RULES, root, back)
    assert back == {"id": "X", "marks": "M", "weight": {"value": 1, "unit": "KGM"}}


def test_numbers_keep_their_json_type_and_never_use_exponents() -> None:
    root = built({"weight": {"value": 1e-7, "unit": "KGM"}})
    assert root[0].text == "0.0000001"
    back: dict[str, Any] = {}
    read(RULES, root, back)
    assert back["weight"]["value"] == 1e-7 and isinstance(back["weight"]["value"], float)


def test_a_non_number_in_a_numeric_element_is_a_mapping_error() -> None:
    root = etree.fromstring(
        b'<Root xmlns="urn:aswnode:eformd:1"><Weight unitCode="KGM">heavy</Weight></Root>'
    )
    with pytest.raises(MappingError):
        read(RULES, root, {})


def test_rows_give_pointer_patterns_and_xpath_like_paths() -> None:
    table = {(r.field, r.path) for r in rows(RULES)}
    assert ("/notes/*", "/fd:Note[fd:Subject='A']/fd:Content") in table
    assert ("/lines/*/n", "/fd:Lines/fd:Line/fd:N") in table
    assert ("/weight/unit", "/fd:Weight/@unitCode") in table
