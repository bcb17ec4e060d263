"""The IPPC ePhyto profile: domestic phytosanitary certificate ⇄ UN/CEFACT SPSCertificate D17A (Hub types)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mappings import namespaces as ns
from mappings.domestic import is_date
from mappings.errors import FieldError
from mappings.lenient import items
from mappings.profile import MappingProfile
from mappings.rules import CODE, DATE, DATETIME, DECIMAL, INTEGER, Each, Keyed, Leaf

__all__ = ["PROFILE"]


def _measure(field: str, path: str) -> tuple[Leaf, Leaf]:
    return (
        Leaf(f"{field}/value", path, DECIMAL),
        Leaf(f"{field}/unit", f"{path}/@unitCode", CODE, "unece-rec20-units"),
    )


def _party(field: str, path: str) -> tuple[Leaf, ...]:
    lines = ("LineOne", "LineTwo", "LineThree", "LineFour", "LineFive")
    return (
        Leaf(f"{field}/name", f"{path}/ram:Name"),
        *(
            Leaf(f"{field}/address_lines/{i}", f"{path}/ram:SpecifiedSPSAddress/ram:{line}")
            for i, line in enumerate(lines)
        ),
    )


def _characteristic(code: str, *rules: Leaf) -> Keyed:
    return Keyed("ram:ApplicableSPSProcessCharacteristic", "ram:Description", code, rules)


# In the element order of the Hub's SPSCertificate types (JAXB order); see mappings/ephyto/README.md.
RULES = (
    Leaf("certificate_number", "rsm:SPSExchangedDocument/ram:ID"),
    Leaf("certificate_type", "rsm:SPSExchangedDocument/ram:TypeCode", CODE, "ippc-certificate-types"),
    Leaf("status", "rsm:SPSExchangedDocument/ram:StatusCode", CODE, "ippc-certificate-statuses"),
    Leaf("issued_at", "rsm:SPSExchangedDocument/ram:IssueDateTime/udt:DateTimeString", DATETIME),
    Leaf("issuer/name", "rsm:SPSExchangedDocument/ram:IssuerSPSParty/ram:Name"),
    Keyed(
        "rsm:SPSExchangedDocument/ram:IncludedSPSNote",
        "ram:Subject",
        "ADEDL",
        (Leaf(".", "ram:Content"),),
        field="additional_declarations",
    ),
    Keyed(
        "rsm:SPSExchangedDocument/ram:IncludedSPSNote",
        "ram:Subject",
        "ADIPEDL",
        (Leaf("import_permit_number", "ram:Content"),),
    ),
    Keyed(
        "rsm:SPSExchangedDocument/ram:IncludedSPSNote",
        "ram:Subject",
        "DMCL",
        (Leaf("distinguishing_marks", "ram:Content"),),
    ),
    Leaf(
        "signatory/signed_on",
        "rsm:SPSExchangedDocument/ram:SignatorySPSAuthentication/ram:ActualDateTime/udt:DateTimeString",
        DATE,
    ),
    Leaf(
        "signatory/place",
        "rsm:SPSExchangedDocument/ram:SignatorySPSAuthentication/ram:IssueSPSLocation/ram:Name",
    ),
    Leaf(
        "signatory/name",
        "rsm:SPSExchangedDocument/ram:SignatorySPSAuthentication/ram:ProviderSPSParty/ram:SpecifiedSPSPerson/ram:Name",
    ),
    *_party("consignor", "rsm:SPSConsignment/ram:ConsignorSPSParty"),
    *_party("consignee", "rsm:SPSConsignment/ram:ConsigneeSPSParty"),
    Leaf("export_country", "rsm:SPSConsignment/ram:ExportSPSCountry/ram:ID", CODE, "iso3166-alpha2"),
    Leaf("import_country", "rsm:SPSConsignment/ram:ImportSPSCountry/ram:ID", CODE, "iso3166-alpha2"),
    Each(
        "transit_countries",
        "rsm:SPSConsignment/ram:TransitSPSCountry",
        (Leaf(".", "ram:ID", CODE, "iso3166-alpha2"),),
    ),
    Leaf("point_of_entry/locode", "rsm:SPSConsignment/ram:UnloadingBaseportSPSLocation/ram:ID", CODE),
    Leaf("point_of_entry/name", "rsm:SPSConsignment/ram:UnloadingBaseportSPSLocation/ram:Name"),
    Leaf("inspection/place", "rsm:SPSConsignment/ram:ExaminationSPSEvent/ram:OccurrenceSPSLocation/ram:Name"),
    Each(
        "means_of_conveyance",
        "rsm:SPSConsignment/ram:MainCarriageSPSTransportMovement",
        (
            Leaf("voyage", "ram:ID"),
            Leaf("mode", "ram:ModeCode", CODE, "unece-rec19-transport-modes"),
            Leaf("name", "ram:UsedSPSTransportMeans/ram:Name"),
        ),
    ),
    Each(
        "items",
        "rsm:SPSConsignment/ram:IncludedSPSConsignmentItem/ram:IncludedSPSTradeLineItem",
        (
            Leaf("sequence", "ram:SequenceNumeric", INTEGER),
            Leaf("description", "ram:Description"),
            Leaf("common_name", "ram:CommonName"),
            Leaf("botanical_name", "ram:ScientificName"),
            Leaf("intended_use", "ram:IntendedUse", CODE, "ippc-intended-uses"),
            *_measure("net_weight", "ram:NetWeightMeasure"),
            *_measure("gross_weight", "ram:GrossWeightMeasure"),
            *_measure("net_volume", "ram:NetVolumeMeasure"),
            Keyed(
                "ram:AdditionalInformationSPSNote",
                "ram:Subject",
                "ADTLIL",
                (Leaf(".", "ram:Content"),),
                field="additional_declarations",
            ),
            Keyed(
                "ram:AdditionalInformationSPSNote",
                "ram:Subject",
                "DMTLIL",
                (Leaf("distinguishing_marks", "ram:Content"),),
            ),
            Keyed(
                "ram:ApplicableSPSClassification",
                "ram:SystemName",
                "HS",
                (Leaf("hs_code", "ram:ClassCode", CODE),),
            ),
            Keyed(
                "ram:ApplicableSPSClassification",
                "ram:SystemName",
                "IPPCPCVP",
                (Leaf("commodity_class", "ram:ClassName", CODE, "ippc-commodity-classes"),),
            ),
            Keyed(
                "ram:ApplicableSPSClassification",
                "ram:SystemName",
                "IPPCPCC",
                (Leaf(".", "ram:ClassName", CODE, "ippc-product-conditions"),),
                field="conditions",
            ),
            Each(
                "packages",
                "ram:PhysicalSPSPackage",
                (
                    Leaf("level", "ram:LevelCode", INTEGER),
                    Leaf("type", "ram:TypeCode", CODE, "unece-rec21-package-types"),
                    Leaf("quantity", "ram:ItemQuantity", DECIMAL),
                ),
            ),
            Each(
                "origins",
                "ram:OriginSPSCountry",
                (
                    Leaf("country", "ram:ID", CODE, "iso3166-alpha2"),
                    Leaf("region", "ram:SubordinateSPSCountrySubDivision/ram:Name"),
                ),
            ),
            Each(
                "treatments",
                "ram:AppliedSPSProcess",
                (
                    Leaf("type", "ram:TypeCode", CODE, "ippc-treatment-types"),
                    Leaf("start_date", "ram:CompletionSPSPeriod/ram:StartDateTime/udt:DateTimeString", DATE),
                    Leaf("end_date", "ram:CompletionSPSPeriod/ram:EndDateTime/udt:DateTimeString", DATE),
                    *_measure("duration", "ram:CompletionSPSPeriod/ram:DurationMeasure"),
                    _characteristic("TTCH", Leaf("chemical", "ram:Description[1]")),
                    _characteristic("TTCO", *_measure("concentration", "ram:ValueMeasure")),
                    _characteristic("TTTM", *_measure("temperature", "ram:ValueMeasure")),
                    _characteristic("TTAI", Leaf("additional_information", "ram:Description[1]")),
                ),
            ),
        ),
    ),
)


def _countries_differ(document: dict[str, Any]) -> Iterator[FieldError]:
    if document.get("export_country") and document.get("export_country") == document.get("import_country"):
        yield FieldError(
            "/import_country",
            "same-country",
            "Nước nhập khẩu (import_country): must differ from the export country.",
        )


def _sequences_unique(document: dict[str, Any]) -> Iterator[FieldError]:
    seen: set[int] = set()
    for i, item in items(document):
        seq = item.get("sequence")
        if isinstance(seq, int) and seq in seen:
            yield FieldError(
                f"/items/{i}/sequence", "duplicate", f"Số thứ tự (sequence): item number {seq} is used twice."
            )
        seen.add(seq)


def _weights_consistent(document: dict[str, Any]) -> Iterator[FieldError]:
    for i, item in items(document):
        net, gross = item.get("net_weight"), item.get("gross_weight")
        same_unit = isinstance(net, dict) and isinstance(gross, dict) and net.get("unit") == gross.get("unit")
        if same_unit and float(gross["value"]) < float(net["value"]):
            yield FieldError(
                f"/items/{i}/gross_weight/value",
                "gross-below-net",
                "Khối lượng cả bì (gross_weight): is less than the net weight.",
            )


def _treatment_dates(document: dict[str, Any]) -> Iterator[FieldError]:
    signed = (document.get("signatory") or {}).get("signed_on")
    for i, item in items(document):
        for j, treatment in enumerate(item.get("treatments") or ()):
            start, end = treatment.get("start_date"), treatment.get("end_date")
            start, end = (start if is_date(start) else None), (end if is_date(end) else None)
            signed = signed if is_date(signed) else None
            if start and end and end < start:
                yield FieldError(
                    f"/items/{i}/treatments/{j}/end_date",
                    "date-order",
                    "Ngày kết thúc xử lý (end_date): is before the start date.",
                )
            if start and signed and start > signed:
                yield FieldError(
                    f"/items/{i}/treatments/{j}/start_date",
                    "date-order",
                    "Ngày bắt đầu xử lý (start_date): is after the certificate was signed.",
                )


def _signed_not_after_issue(document: dict[str, Any]) -> Iterator[FieldError]:
    signed = (document.get("signatory") or {}).get("signed_on")
    issued = document.get("issued_at")
    if is_date(signed) and isinstance(issued, str) and is_date(issued[:10]) and signed > issued[:10]:
        yield FieldError(
            "/signatory/signed_on", "date-order", "Ngày ký (signed_on): is after the date of issue."
        )


PROFILE = MappingProfile(
    document_type="ephyto",
    version="sps-d17a-ippc-hub",
    treaty_format="IPPC ePhyto: UN/CEFACT SPSCertificate D17A, checked against the IPPC Hub WSDL types",
    mime_type="application/xml",
    root_element=f"{{{ns.RSM_SPS_CERTIFICATE}}}SPSCertificate",
    rules=RULES,
    xsd_package="mappings.ephyto.xsd",
    xsd_file="hub-SPSCertificate-17.xsd",
    unmapped={
        "/dossier_number": "domestic NSW dossier number; no SPS element for it",
        "/inspection/inspected_on": "ExaminationSPSEvent carries only the place in the Hub types, no date",
        "/container_numbers/*": "UtilizedSPSTransportEquipment/ID is unqualified in the Hub types and "
        "qualified in the official RABIE; no form is valid for both, so it is not sent",
    },
    checks=(
        _countries_differ,
        _sequences_unique,
        _weights_consistent,
        _treatment_dates,
        _signed_not_after_issue,
    ),
    strict_inbound=False,
    nsmap={"rsm": ns.RSM_SPS_CERTIFICATE, "ram": ns.RAM, "udt": ns.UDT},
)
