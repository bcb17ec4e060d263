"""Code lists are data files that name their source and version."""

from __future__ import annotations

import pytest

from mappings.codelists import available, load


def test_every_list_names_its_source_and_version() -> None:
    assert {
        "iso3166-alpha2",
        "atiga-origin-criteria",
        "unece-rec20-units",
        "unece-rec21-package-types",
    } <= set(available())
    for list_id in available():
        codes = load(list_id)
        assert codes.id == list_id and codes.source and codes.version and codes.codes


def test_the_lists_hold_the_codes_the_treaties_use() -> None:
    assert {"VN", "ID", "SS"} <= set(load("iso3166-alpha2").codes)
    assert set(load("atiga-origin-criteria").codes) == {"WO", "PE", "RVC", "CTH", "CTSH", "CC", "PSR"}
    assert {"KGM", "MTQ", "CEL", "HUR"} <= set(load("unece-rec20-units").codes)
    assert {"CT", "BG", "BX"} <= set(load("unece-rec21-package-types").codes)
    assert set(load("ippc-certificate-types").codes) == {"851", "657"}
    assert len(load("asean-member-states").codes) == 10


def test_an_unknown_list_is_named() -> None:
    with pytest.raises(KeyError, match="no code list 'hs2022'"):
        load("hs2022")
