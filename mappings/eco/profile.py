"""The e-C/O profile: domestic certificate of origin ⇄ aswnode interim e-Form D XML (urn:aswnode:eformd:1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from mappings import namespaces as ns
from mappings.domestic import is_date
from mappings.errors import FieldError
from mappings.lenient import items, section
from mappings.profile import MappingProfile
from mappings.rules import BOOLEAN, CODE, DATE, DECIMAL, INTEGER, Each, Leaf

__all__ = ["PROFILE", "RETROACTIVE_AFTER_DAYS"]

# ATIGA Annex 8, Rule 10: issued at exportation or within three days; later it is "issued retroactively".
RETROACTIVE_AFTER_DAYS = 3


def _party(field: str, path: str) -> tuple[Leaf, ...]:
    return (
        Leaf(f"{field}/name", f"{path}/fd:Name"),
        Leaf(f"{field}/address", f"{path}/fd:Address"),
        Leaf(f"{field}/country", f"{path}/fd:Country", CODE, "iso3166-alpha2"),
    )


_BOX13 = (
    ("third_country_invoicing", "ThirdCountryInvoicing"),
    ("exhibition", "Exhibition"),
    ("back_to_back", "BackToBack"),
    ("issued_retroactively", "IssuedRetroactively"),
    ("de_minimis", "DeMinimis"),
    ("accumulation", "Accumulation"),
    ("partial_cumulation", "PartialCumulation"),
)

# In the element order of eformd-1.xsd.
RULES = (
    Leaf("reference_number", "fd:ReferenceNumber"),
    Leaf("issued_in", "fd:IssuedIn", CODE, "asean-member-states"),
    *_party("exporter", "fd:Box1Exporter"),
    *_party("consignee", "fd:Box2Consignee"),
    Leaf("transport/departure_date", "fd:Box3Transport/fd:DepartureDate", DATE),
    Leaf("transport/mode", "fd:Box3Transport/fd:TransportMode", CODE, "unece-rec19-transport-modes"),
    Leaf("transport/vessel_or_aircraft", "fd:Box3Transport/fd:VesselOrAircraft"),
    Leaf("transport/port_of_loading", "fd:Box3Transport/fd:PortOfLoading"),
    Leaf("transport/port_of_discharge", "fd:Box3Transport/fd:PortOfDischarge"),
    Each(
        "items",
        "fd:Goods/fd:Item",
        (
            Leaf("item_number", "fd:ItemNumber", INTEGER),
            Leaf("marks_and_numbers", "fd:MarksAndNumbers"),
            Leaf("package_count", "fd:PackageCount", INTEGER),
            Leaf("package_type", "fd:PackageType", CODE, "unece-rec21-package-types"),
            Leaf("description", "fd:Description"),
            Leaf("hs_code", "fd:HSCode", CODE),
            Leaf("origin_criterion", "fd:OriginCriterion", CODE, "atiga-origin-criteria"),
            Leaf("rvc_percent", "fd:RVCPercent", DECIMAL),
            Leaf("quantity/value", "fd:Quantity", DECIMAL),
            Leaf("quantity/unit", "fd:Quantity/@unitCode", CODE, "unece-rec20-units"),
            Leaf("gross_weight/value", "fd:GrossWeight", DECIMAL),
            Leaf("gross_weight/unit", "fd:GrossWeight/@unitCode", CODE, "unece-rec20-units"),
            Leaf("fob_value", "fd:FOBValue", DECIMAL),
        ),
    ),
    Leaf("fob_currency", "fd:Goods/fd:FOBCurrency", CODE, "iso4217-currencies"),
    Leaf("total_fob_value", "fd:Goods/fd:TotalFOBValue", DECIMAL),
    Each("invoices", "fd:Box10Invoice", (Leaf("number", "fd:Number"), Leaf("date", "fd:Date", DATE))),
    Leaf("declaration/producing_country", "fd:Box11Declaration/fd:ProducingCountry", CODE, "iso3166-alpha2"),
    Leaf(
        "declaration/importing_country",
        "fd:Box11Declaration/fd:ImportingCountry",
        CODE,
        "asean-member-states",
    ),
    Leaf("declaration/place", "fd:Box11Declaration/fd:Place"),
    Leaf("declaration/date", "fd:Box11Declaration/fd:Date", DATE),
    Leaf("declaration/signatory_name", "fd:Box11Declaration/fd:SignatoryName"),
    Leaf("certification/issuing_authority", "fd:Box12Certification/fd:IssuingAuthority"),
    Leaf("certification/place", "fd:Box12Certification/fd:Place"),
    Leaf("certification/date", "fd:Box12Certification/fd:Date", DATE),
    Leaf("certification/signatory_name", "fd:Box12Certification/fd:SignatoryName"),
    *(Leaf(f"box13/{field}", f"fd:Box13/fd:{element}", BOOLEAN) for field, element in _BOX13),
    Leaf("third_country_invoice/operator_name", "fd:ThirdCountryInvoice/fd:OperatorName"),
    Leaf(
        "third_country_invoice/operator_country",
        "fd:ThirdCountryInvoice/fd:OperatorCountry",
        CODE,
        "iso3166-alpha2",
    ),
    Leaf("exhibition/name", "fd:Exhibition/fd:Name"),
    Leaf("exhibition/place", "fd:Exhibition/fd:Place"),
    Leaf("back_to_back/original_reference", "fd:BackToBack/fd:OriginalReference"),
    Leaf("back_to_back/original_issued_on", "fd:BackToBack/fd:OriginalIssuedOn", DATE),
    Leaf(
        "back_to_back/original_issuing_country",
        "fd:BackToBack/fd:OriginalIssuingCountry",
        CODE,
        "asean-member-states",
    ),
    Leaf("remarks", "fd:Remarks"),
)


def _countries(document: dict[str, Any]) -> Iterator[FieldError]:
    issued_in = document.get("issued_in")
    importing = section(document, "declaration").get("importing_country")
    if issued_in and section(document, "exporter").get("country") not in (None, issued_in):
        yield FieldError(
            "/exporter/country",
            "country-mismatch",
            "Nước của người xuất khẩu (country): must be the country the C/O is issued in.",
        )
    if importing and importing == issued_in:
        yield FieldError(
            "/declaration/importing_country",
            "same-country",
            "Nước nhập khẩu (importing_country): must differ from the country of issue.",
        )
    consignee_country = section(document, "consignee").get("country")
    third_country = section(document, "box13").get("third_country_invoicing")
    if importing and consignee_country not in (None, importing) and not third_country:
        yield FieldError(
            "/consignee/country",
            "country-mismatch",
            "Nước của người nhận hàng (country): must be the importing country of box 11.",
        )


def _item_numbers(document: dict[str, Any]) -> Iterator[FieldError]:
    for position, (i, item) in enumerate(items(document), start=1):
        if isinstance(item.get("item_number"), int) and item["item_number"] != position:
            yield FieldError(
                f"/items/{i}/item_number",
                "item-number-order",
                f"Số thứ tự mặt hàng (item_number): box 5 numbers items 1, 2, 3…; expected {position}.",
            )


def _rvc(document: dict[str, Any]) -> Iterator[FieldError]:
    for i, item in items(document):
        is_rvc = item.get("origin_criterion") == "RVC"
        if is_rvc and "rvc_percent" not in item:
            yield FieldError(
                f"/items/{i}/rvc_percent",
                "required",
                "Hàm lượng giá trị khu vực % (rvc_percent): is required when the origin criterion is RVC.",
            )
        if is_rvc and "fob_value" not in item:
            yield FieldError(
                f"/items/{i}/fob_value",
                "required",
                "Trị giá FOB (fob_value): box 9 needs the FOB value where RVC is applied.",
            )
        if not is_rvc and "rvc_percent" in item:
            yield FieldError(
                f"/items/{i}/rvc_percent",
                "not-allowed",
                "Hàm lượng giá trị khu vực % (rvc_percent): only for the origin criterion RVC.",
            )
    if any("fob_value" in item for _, item in items(document)) and "fob_currency" not in document:
        yield FieldError(
            "/fob_currency", "required", "Đồng tiền trị giá FOB (fob_currency): is required with FOB values."
        )


def _totals(document: dict[str, Any]) -> Iterator[FieldError]:
    total = document.get("total_fob_value")
    if not isinstance(total, int | float):
        return
    values = [item.get("fob_value") for _, item in items(document)]
    if any(not isinstance(v, int | float) for v in values):
        yield FieldError(
            "/total_fob_value",
            "total-without-items",
            "Tổng trị giá FOB (total_fob_value): every item needs its FOB value when a total is given.",
        )
    elif abs(sum(values) - total) > 0.005:
        yield FieldError(
            "/total_fob_value",
            "total-mismatch",
            f"Tổng trị giá FOB (total_fob_value): {total} is not the sum of the items' FOB values "
            f"({round(sum(values), 2)}).",
        )


def _dates(document: dict[str, Any]) -> Iterator[FieldError]:
    certified = section(document, "certification").get("date")
    if not is_date(certified):
        return
    declared = section(document, "declaration").get("date")
    if is_date(declared) and declared > certified:
        yield FieldError(
            "/declaration/date", "date-order", "Ngày khai báo (date): is after the date of certification."
        )
    for i, invoice in enumerate(document.get("invoices") or ()):
        if isinstance(invoice, dict) and is_date(invoice.get("date")) and invoice["date"] > certified:
            yield FieldError(
                f"/invoices/{i}/date",
                "date-order",
                "Ngày hóa đơn (date): is after the date of certification.",
            )
    departure = section(document, "transport").get("departure_date")
    retroactive = section(document, "box13").get("issued_retroactively")
    if is_date(departure):
        late = (date.fromisoformat(certified) - date.fromisoformat(departure)).days > RETROACTIVE_AFTER_DAYS
        if late and retroactive is False:
            yield FieldError(
                "/box13/issued_retroactively",
                "retroactive-not-ticked",
                f"Cấp sau (issued_retroactively): certified more than {RETROACTIVE_AFTER_DAYS} days after "
                "departure, so box 13 'Issued Retroactively' must be ticked (ATIGA Annex 8 Rule 10).",
            )


def _box13_particulars(document: dict[str, Any]) -> Iterator[FieldError]:
    box13 = section(document, "box13")
    for flag, particulars, label in (
        ("third_country_invoicing", "third_country_invoice", "Hóa đơn nước thứ ba"),
        ("exhibition", "exhibition", "Triển lãm"),
        ("back_to_back", "back_to_back", "C/O giáp lưng"),
    ):
        if box13.get(flag) is True and particulars not in document:
            yield FieldError(
                f"/{particulars}", "required", f"{label} ({particulars}): is required when box 13 is ticked."
            )
        if box13.get(flag) is False and particulars in document:
            yield FieldError(
                f"/box13/{flag}",
                "box13-not-ticked",
                f"{label} ({flag}): tick box 13 or remove the '{particulars}' particulars.",
            )


PROFILE = MappingProfile(
    document_type="eco",
    version="aswnode-eformd-1",
    treaty_format="ATIGA e-Form D in the aswnode interim format urn:aswnode:eformd:1 (not the ASW schema)",
    mime_type="application/xml",
    root_element=f"{{{ns.EFORMD_1}}}FormD",
    rules=RULES,
    xsd_package="mappings.eco",
    xsd_file="eformd-1.xsd",
    unmapped={
        "/dossier_number": "domestic NSW dossier number; Form D has no box for it",
        "/exporter/tax_code": "Vietnamese tax code; Form D box 1 carries name, address and country only",
    },
    checks=(_countries, _item_numbers, _rvc, _totals, _dates, _box13_particulars),
    strict_inbound=True,
    nsmap={None: ns.EFORMD_1},
    root_attributes={"formatVersion": "1.0"},
)
