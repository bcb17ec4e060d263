"""The ePhyto profile: Hub-schema-valid output, field errors, the Mattilsynet sample read leniently."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from mappings.errors import DomesticInvalid, MappingError
from mappings.namespaces import RAM, RSM_SPS_CERTIFICATE
from mappings.registry import profile

EPHYTO = profile("ephyto")


def certificate() -> dict[str, Any]:
    return {
        "certificate_number": "VN-PC-2026-000123",
        "certificate_type": "851",
        "status": "70",
        "issued_at": "2026-11-20T10:00:00+07:00",
        "issuer": {"name": "Cục Bảo vệ thực vật"},
        "additional_declarations": ["The consignment is free from Bactrocera dorsalis."],
        "signatory": {"name": "Nguyễn Văn A", "place": "Hà Nội", "signed_on": "2026-11-20"},
        "consignor": {"name": "Công ty A", "address_lines": ["1 Phố Huế", "Hà Nội"]},
        "consignee": {"name": "PT Importer", "address_lines": ["Jakarta"]},
        "export_country": "VN",
        "import_country": "ID",
        "means_of_conveyance": [{"mode": "1", "name": "MV Sao Mai", "voyage": "V12"}],
        "items": [
            {
                "sequence": 1,
                "description": "Fresh dragon fruit",
                "botanical_name": "Hylocereus undatus",
                "net_weight": {"value": 1000.5, "unit": "KGM"},
                "gross_weight": {"value": 1100, "unit": "KGM"},
                "hs_code": "081090",
                "packages": [{"level": 1, "type": "CT", "quantity": 100}],
                "treatments": [
                    {"type": "VHT", "start_date": "2026-11-18", "temperature": {"value": 46.5, "unit": "CEL"}}
                ],
            }
        ],
    }


def test_a_valid_certificate_has_no_errors() -> None:
    assert EPHYTO.validate(certificate()) == ()


def test_output_validates_against_the_hub_schema_and_uses_the_d17a_namespaces() -> None:
    xml = EPHYTO.to_treaty(certificate())
    assert EPHYTO.schema_errors(xml) == ()
    root = etree.fromstring(xml)
    assert root.tag == f"{{{RSM_SPS_CERTIFICATE}}}SPSCertificate"
    ns = {"rsm": RSM_SPS_CERTIFICATE, "ram": RAM}
    assert root.xpath("rsm:SPSExchangedDocument/ram:TypeCode/text()", namespaces=ns) == ["851"]
    notes = root.xpath(
        "rsm:SPSExchangedDocument/ram:IncludedSPSNote[ram:Subject='ADEDL']/ram:Content/text()", namespaces=ns
    )
    assert notes == ["The consignment is free from Bactrocera dorsalis."]
    assert root.xpath("//ram:NetWeightMeasure/@unitCode", namespaces=ns) == ["KGM"]


def test_every_error_is_reported_at_once_with_a_pointer() -> None:
    bad = copy.deepcopy(certificate())
    del bad["issuer"]
    bad["import_country"] = "XX"
    bad["issued_at"] = "20 Nov 2026"
    bad["items"][0]["packages"][0]["type"] = "??"
    bad["items"][0]["gross_weight"]["value"] = 10
    bad["unexpected"] = True
    found = {(e.pointer, e.code) for e in EPHYTO.validate(bad)}
    assert found == {
        ("/issuer", "required"),
        ("/import_country", "unknown-code"),
        ("/issued_at", "bad-date"),
        ("/items/0/packages/0/type", "unknown-code"),
        ("/items/0/gross_weight/value", "gross-below-net"),
        ("/unexpected", "unknown-field"),
    }


def test_an_unknown_code_error_names_its_code_list() -> None:
    bad = certificate()
    bad["items"][0]["net_weight"]["unit"] = "POUNDS"
    (error,) = EPHYTO.validate(bad)
    assert error.pointer == "/items/0/net_weight/unit"
    assert "unece-rec20-units" in error.message and "Đơn vị tính" in error.message


def test_semantic_checks_catch_same_country_and_dates() -> None:
    bad = certificate()
    bad["import_country"] = "VN"
    bad["items"][0]["treatments"][0]["start_date"] = "2026-11-21"
    found = {(e.pointer, e.code) for e in EPHYTO.validate(bad)}
    assert found == {("/import_country", "same-country"), ("/items/0/treatments/0/start_date", "date-order")}


def test_to_treaty_refuses_an_invalid_certificate_with_all_its_errors() -> None:
    bad = certificate()
    del bad["items"]
    bad["status"] = "99"
    with pytest.raises(DomesticInvalid) as caught:
        EPHYTO.to_treaty(bad)
    assert {e.pointer for e in caught.value.errors} == {"/items", "/status"}


def test_the_mattilsynet_sample_maps_to_domestic_json_although_it_fails_the_hub_types(vectors: Path) -> None:
    xml = (vectors / "ephyto/samples/SPSCertificateContent-Mattilsynet.xml").read_bytes()
    assert len(EPHYTO.schema_errors(xml)) == 3  # element order inside consignment parties (SOURCES.md §1.3)
    document = EPHYTO.from_treaty(xml)
    assert document["certificate_number"] == "123ABC"
    assert (document["certificate_type"], document["status"]) == ("851", "70")
    assert (document["export_country"], document["import_country"], document["transit_countries"]) == (
        "AR",
        "EC",
        ["US"],
    )
    assert document["consignor"] == {
        "name": "Juan Perez",
        "address_lines": ["El trébol 853", "Brandsen, Buenos Aires, Argentina"],
    }
    assert document["signatory"] == {"place": "La Plata, Buenos Aires", "name": "Miguel Perrerra"}
    assert document["import_permit_number"] == "DFGG 1111"
    first, second = document["items"]
    assert first["hs_code"] == "06029048" and first["commodity_class"] == "Seeds"
    assert first["conditions"] == ["Fresh", "Rooted"]
    assert first["net_weight"] == {"value": 10, "unit": "KGM"}
    assert first["packages"] == [
        {"level": 1, "type": "BG", "quantity": 100.0},
        {"level": 2, "type": "BX", "quantity": 20.0},
    ]
    assert first["treatments"][0]["temperature"] == {"value": 32.0, "unit": "CEL"}
    assert first["treatments"][0]["chemical"] == "238"
    assert second["sequence"] == 1 and second["origins"][0] == {
        "country": "AR",
        "region": "Valles de la RegiónPatagónica",
    }
    # Read into the domestic format it is a certificate an officer can check: only what it lacks is flagged.
    assert {e.pointer for e in EPHYTO.validate(document)} == {"/signatory/signed_on"}


def test_what_the_mattilsynet_sample_says_beyond_the_domestic_format_is_listed(vectors: Path) -> None:
    unread = EPHYTO.unread((vectors / "ephyto/samples/SPSCertificateContent-Mattilsynet.xml").read_bytes())
    assert (
        "rsm:SPSCertificate/rsm:SPSExchangedDocument/ram:IncludedSPSNote[0]/ram:Subject = 'SPSFL'" in unread
    )
    attachment = "rsm:SPSCertificate/rsm:SPSExchangedDocument/ram:ReferenceSPSReferencedDocument[0]"
    attachment += "/ram:AttachmentBinaryObject"
    assert f"{attachment}/@filename = 'TestPdf.pdf'" in unread
    assert not [line for line in unread if "ram:ID = '123ABC'" in line or "ram:ScientificName" in line]


def test_the_apiephyto_envelope_without_namespace_declarations_is_refused(vectors: Path) -> None:
    xml = (vectors / "ephyto/samples/DeliverPhytoEnvelope-ApiEphyto-ejemplo.xml").read_bytes()
    with pytest.raises(MappingError) as caught:
        EPHYTO.from_treaty(xml)
    assert caught.value.code == "xml-not-well-formed"


def test_an_ephyto_in_another_namespace_is_refused() -> None:
    xml = EPHYTO.to_treaty(certificate()).replace(b"SPSCertificate:17", b"SPSCertificate:9")
    with pytest.raises(MappingError) as caught:
        EPHYTO.from_treaty(xml)
    assert caught.value.code == "wrong-root"


def test_reading_does_not_depend_on_element_order() -> None:
    root = etree.fromstring(EPHYTO.to_treaty(certificate()))
    document, consignment = root[0], root[1]
    document[:] = list(reversed(document))
    consignment[:] = list(reversed(consignment))
    assert EPHYTO.schema_errors(etree.tostring(root))  # no longer Hub-order
    assert EPHYTO.from_treaty(etree.tostring(root)) == EPHYTO.from_treaty(EPHYTO.to_treaty(certificate()))
