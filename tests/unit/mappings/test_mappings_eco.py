"""The e-C/O profile: interim e-Form D valid against our XSD, Form D rules as field errors, strict reading."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from lxml import etree

from mappings.errors import MappingError
from mappings.namespaces import EFORMD_1
from mappings.registry import profile

ECO = profile("eco")


def certificate() -> dict[str, Any]:
    return {
        "dossier_number": "HS-2026-1",
        "reference_number": "VN-ID-26/01/000123",
        "issued_in": "VN",
        "exporter": {
            "name": "Công ty A",
            "address": "1 Phố Huế, Hà Nội",
            "country": "VN",
            "tax_code": "0101234567",
        },
        "consignee": {"name": "PT Importer", "address": "Jakarta", "country": "ID"},
        "transport": {"departure_date": "2026-11-18", "mode": "1", "port_of_discharge": "Tanjung Priok"},
        "items": [
            {
                "item_number": 1,
                "description": "Cashew kernels",
                "hs_code": "080132",
                "origin_criterion": "WO",
                "gross_weight": {"value": 1050.5, "unit": "KGM"},
                "fob_value": 12000.5,
            },
            {
                "item_number": 2,
                "description": "Garments",
                "hs_code": "62034200",
                "origin_criterion": "RVC",
                "rvc_percent": 42.5,
                "fob_value": 3000,
            },
        ],
        "fob_currency": "USD",
        "total_fob_value": 15000.5,
        "invoices": [{"number": "INV-1", "date": "2026-11-15"}],
        "declaration": {
            "producing_country": "VN",
            "importing_country": "ID",
            "place": "Hà Nội",
            "date": "2026-11-18",
            "signatory_name": "Trần B",
        },
        "certification": {
            "issuing_authority": "Phòng QLXNK Hà Nội",
            "place": "Hà Nội",
            "date": "2026-11-19",
            "signatory_name": "Lê C",
        },
        "box13": {
            "third_country_invoicing": False,
            "exhibition": False,
            "back_to_back": False,
            "issued_retroactively": False,
            "de_minimis": False,
            "accumulation": False,
            "partial_cumulation": False,
        },
    }


def errors(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e.pointer, e.code) for e in ECO.validate(document)}


def test_a_valid_certificate_maps_to_our_interim_form_d_and_back() -> None:
    xml = ECO.to_treaty(certificate())
    root = etree.fromstring(xml)
    assert root.tag == f"{{{EFORMD_1}}}FormD" and root.get("formatVersion") == "1.0"
    assert ECO.schema_errors(xml) == ()
    back = ECO.from_treaty(xml)
    expected = copy.deepcopy(certificate())
    del expected["dossier_number"], expected["exporter"]["tax_code"]
    assert back == expected


def test_the_profile_says_which_fields_form_d_cannot_carry() -> None:
    assert ECO.unmapped_fields == ("/dossier_number", "/exporter/tax_code")
    assert b"0101234567" not in ECO.to_treaty(certificate())


def test_schema_errors_come_all_at_once_with_pointers() -> None:
    bad = certificate()
    bad["issued_in"] = "FR"
    bad["items"][0]["origin_criterion"] = "XYZ"
    bad["items"][1]["hs_code"] = "12"
    bad["invoices"][0]["date"] = "2026-02-30"
    del bad["box13"]["de_minimis"]
    assert errors(bad) >= {
        ("/issued_in", "unknown-code"),
        ("/items/0/origin_criterion", "unknown-code"),
        ("/items/1/hs_code", "bad-format"),
        ("/invoices/0/date", "bad-date"),
        ("/box13/de_minimis", "required"),
    }


def test_rvc_needs_its_percentage_and_fob_value() -> None:
    bad = certificate()
    del bad["items"][1]["rvc_percent"], bad["items"][1]["fob_value"], bad["total_fob_value"]
    bad["items"][0]["rvc_percent"] = 50
    assert errors(bad) == {
        ("/items/1/rvc_percent", "required"),
        ("/items/1/fob_value", "required"),
        ("/items/0/rvc_percent", "not-allowed"),
    }


def test_the_total_fob_value_must_be_the_sum_of_the_items() -> None:
    bad = certificate()
    bad["total_fob_value"] = 15000
    assert errors(bad) == {("/total_fob_value", "total-mismatch")}


def test_countries_item_numbers_and_dates_are_checked() -> None:
    bad = certificate()
    bad["exporter"]["country"] = "TH"
    bad["declaration"]["importing_country"] = "VN"
    bad["items"][1]["item_number"] = 5
    bad["declaration"]["date"] = "2026-11-20"
    assert errors(bad) == {
        ("/exporter/country", "country-mismatch"),
        ("/declaration/importing_country", "same-country"),
        ("/consignee/country", "country-mismatch"),
        ("/items/1/item_number", "item-number-order"),
        ("/declaration/date", "date-order"),
    }


def test_late_certification_must_tick_issued_retroactively() -> None:
    late = certificate()
    late["certification"]["date"] = "2026-11-25"
    assert errors(late) == {("/box13/issued_retroactively", "retroactive-not-ticked")}
    late["box13"]["issued_retroactively"] = True
    assert errors(late) == set()


def test_box_13_ticks_and_their_particulars_go_together() -> None:
    bad = certificate()
    bad["box13"]["back_to_back"] = True
    bad["exhibition"] = {"name": "Vietnam Expo", "place": "Hà Nội"}
    assert errors(bad) == {("/back_to_back", "required"), ("/box13/exhibition", "box13-not-ticked")}


def test_messages_name_the_field_in_vietnamese() -> None:
    bad = certificate()
    del bad["transport"]["port_of_discharge"]
    (error,) = ECO.validate(bad)
    assert error.pointer == "/transport/port_of_discharge"
    assert error.message.startswith("Cảng dỡ hàng (port_of_discharge)")


def test_inbound_form_d_that_fails_our_xsd_is_refused() -> None:
    xml = ECO.to_treaty(certificate()).replace(b"<HSCode>080132</HSCode>", b"<HSCode>80132</HSCode>")
    with pytest.raises(MappingError) as caught:
        ECO.from_treaty(xml)
    assert caught.value.code == "schema-invalid"


def test_a_document_that_is_not_a_form_d_is_refused() -> None:
    with pytest.raises(MappingError) as caught:
        ECO.from_treaty(b'<FormD xmlns="urn:example:other"/>')
    assert caught.value.code == "wrong-root"
