"""The registry finds a profile by document type and version; a profile refuses to drop a field silently."""

from __future__ import annotations

import dataclasses

import pytest

from mappings.registry import document_types, profile, versions


def test_each_document_type_has_a_default_profile_with_the_node_contract() -> None:
    assert set(document_types()) == {"eco", "ephyto"}
    for document_type in document_types():
        chosen = profile(document_type)
        assert chosen is profile(document_type, versions(document_type)[0])
        assert chosen.mime_type == "application/xml"
        assert chosen.root_element.startswith("{")
        assert all(callable(getattr(chosen, name)) for name in ("validate", "to_treaty", "from_treaty"))


def test_unknown_types_and_versions_are_named() -> None:
    with pytest.raises(KeyError, match="'edi'"):
        profile("edi")
    with pytest.raises(KeyError, match="aswnode-eformd-1"):
        profile("eco", "asw-official-2")


def test_a_profile_whose_rules_miss_a_field_cannot_be_built() -> None:
    eco = profile("eco")
    with pytest.raises(ValueError, match="/remarks"):
        dataclasses.replace(eco, rules=eco.rules[:-1])


def test_a_profile_cannot_name_a_field_the_schema_lacks() -> None:
    eco = profile("eco")
    with pytest.raises(ValueError, match="/nonexistent"):
        dataclasses.replace(eco, unmapped={**eco.unmapped, "/nonexistent": "x"})
