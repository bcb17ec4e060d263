"""Domestic schemas: draft 2020-12, every field labelled in Vietnamese, errors as RFC 6901 pointers."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from mappings import domestic
from mappings.errors import FieldError


@pytest.mark.parametrize("document_type", ["eco", "ephyto"])
def test_the_schemas_are_draft_2020_12_and_every_field_has_a_vietnamese_label(document_type: str) -> None:
    schema = domestic.load_schema(document_type)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    fields = domestic.fields(document_type)
    assert len(fields) >= 25
    assert all(f.label_vi for f in fields), [f.pointer for f in fields if not f.label_vi]


def test_pointers_escape_as_rfc_6901_says() -> None:
    assert domestic.pointer(["a/b", "m~n", 0]) == "/a~1b/m~0n/0"


def test_a_document_that_is_not_an_object_gives_one_error_at_the_root() -> None:
    assert domestic.validate("eco", []) == (
        FieldError("", "wrong-type", "document: must be a group of fields."),
    )


def test_field_errors_refuse_a_pointer_without_a_slash() -> None:
    with pytest.raises(ValueError):
        FieldError("items", "required", "x")


def test_control_characters_xml_cannot_carry_are_refused() -> None:
    errors = domestic.validate("eco", {"remarks": "bell\x07"})
    assert ("/remarks", "bad-format") in {(e.pointer, e.code) for e in errors}
