"""Hypothesis strategies for valid domestic certificates (eco, ephyto), and helpers to compare documents."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import strategies as st

from mappings.codelists import load

__all__ = ["eco_documents", "ephyto_documents", "leaves", "matches"]

# Every character XML 1.0 can carry, CR and TAB included; no surrogates, no noncharacters.
_ALPHABET = st.characters(blacklist_categories=("Cs", "Cc", "Cn"), max_codepoint=0x2FFFF) | st.sampled_from(
    "\t\n\r"
)


def text(max_size: int = 24) -> st.SearchStrategy[str]:
    return st.text(_ALPHABET, min_size=1, max_size=max_size)


def code(list_id: str) -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(load(list_id).codes))


def numbers(*, positive: bool = False, top: float = 1e9) -> st.SearchStrategy[int | float]:
    floats = st.floats(
        min_value=0, max_value=top, exclude_min=positive, allow_nan=False, allow_subnormal=False
    )
    return st.integers(min_value=1 if positive else 0, max_value=int(top)) | floats


def measure() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"value": numbers(positive=True), "unit": code("unece-rec20-units")})


_DAY0 = date(2020, 1, 1)


def days(low: int = 0, high: int = 2000) -> st.SearchStrategy[date]:
    return st.integers(low, high).map(lambda n: _DAY0 + timedelta(days=n))


@st.composite
def ephyto_documents(draw: st.DrawFn, max_items: int = 3) -> dict[str, Any]:
    export_country, import_country = draw(
        st.lists(code("iso3166-alpha2"), min_size=2, max_size=2, unique=True)
    )
    signed = draw(days())
    issued_on = draw(days(signed.toordinal() - _DAY0.toordinal(), 2100))
    issued_at = f"{issued_on.isoformat()}T{draw(st.integers(0, 23)):02d}:30:00+07:00"

    def party() -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries(
            {"name": text()}, optional={"address_lines": st.lists(text(), min_size=1, max_size=5)}
        )

    def treatment() -> st.SearchStrategy[dict[str, Any]]:
        return days(0, signed.toordinal() - _DAY0.toordinal()).flatmap(
            lambda start: st.fixed_dictionaries(
                {"type": code("ippc-treatment-types")},
                optional={
                    "start_date": st.just(start.isoformat()),
                    "end_date": days(start.toordinal() - _DAY0.toordinal(), 2100).map(date.isoformat),
                    "duration": measure(),
                    "chemical": text(),
                    "concentration": measure(),
                    "temperature": measure(),
                    "additional_information": text(),
                },
            )
        )

    def item(sequence: int) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries(
            {"sequence": st.just(sequence), "description": text(60), "botanical_name": text()},
            optional={
                "common_name": text(),
                "intended_use": code("ippc-intended-uses"),
                "net_weight": measure(),
                "net_volume": measure(),
                "additional_declarations": st.lists(text(), min_size=1, max_size=3),
                "distinguishing_marks": text(),
                "hs_code": st.from_regex(r"\A[0-9]{6,10}\Z"),
                "commodity_class": code("ippc-commodity-classes"),
                "conditions": st.lists(code("ippc-product-conditions"), min_size=1, max_size=3, unique=True),
                "packages": st.lists(
                    st.fixed_dictionaries(
                        {
                            "level": st.integers(1, 9),
                            "type": code("unece-rec21-package-types"),
                            "quantity": numbers(positive=True),
                        }
                    ),
                    min_size=1,
                    max_size=2,
                ),
                "origins": st.lists(
                    st.fixed_dictionaries({"country": code("iso3166-alpha2")}, optional={"region": text()}),
                    min_size=1,
                    max_size=2,
                ),
                "treatments": st.lists(treatment(), min_size=1, max_size=2),
            },
        ).flatmap(_with_gross_weight)

    count = draw(st.integers(1, max_items))
    items = [draw(item(i + 1)) for i in range(count)]
    return draw(
        st.fixed_dictionaries(
            {
                "certificate_number": text(20),
                "certificate_type": code("ippc-certificate-types"),
                "status": code("ippc-certificate-statuses"),
                "issued_at": st.just(issued_at),
                "issuer": st.fixed_dictionaries({"name": text()}),
                "signatory": st.fixed_dictionaries(
                    {"name": text(), "place": text(), "signed_on": st.just(signed.isoformat())}
                ),
                "consignor": party(),
                "consignee": party(),
                "export_country": st.just(export_country),
                "import_country": st.just(import_country),
                "items": st.just(items),
            },
            optional={
                "dossier_number": text(),
                "additional_declarations": st.lists(text(), min_size=1, max_size=3),
                "import_permit_number": text(),
                "distinguishing_marks": text(),
                "transit_countries": st.lists(code("iso3166-alpha2"), min_size=1, max_size=3, unique=True),
                "point_of_entry": st.fixed_dictionaries(
                    {"name": text()}, optional={"locode": st.from_regex(r"\A[A-Z]{2}[A-Z2-9]{3}\Z")}
                ),
                "inspection": st.fixed_dictionaries(
                    {"place": text()}, optional={"inspected_on": days().map(date.isoformat)}
                ),
                "means_of_conveyance": st.lists(
                    st.fixed_dictionaries(
                        {"mode": code("unece-rec19-transport-modes")},
                        optional={"name": text(), "voyage": text()},
                    ),
                    min_size=1,
                    max_size=2,
                ),
                "container_numbers": st.lists(st.from_regex(r"\A[A-Z]{4}[0-9]{7}\Z"), min_size=1, max_size=3),
            },
        )
    )


def _with_gross_weight(item: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    net = item.get("net_weight")
    if net is None:
        return st.just(item) | measure().map(lambda gross: {**item, "gross_weight": gross})
    return st.just(item) | numbers().map(
        lambda extra: {**item, "gross_weight": {"value": net["value"] + extra, "unit": net["unit"]}}
    )


@st.composite
def eco_documents(draw: st.DrawFn, max_items: int = 3) -> dict[str, Any]:
    asean = sorted(load("asean-member-states").codes)
    issued_in, importing = draw(st.lists(st.sampled_from(asean), min_size=2, max_size=2, unique=True))
    departure = draw(days())
    certified = draw(days(departure.toordinal() - _DAY0.toordinal(), 2100))
    late = (certified - departure).days > 3
    flags = {
        "third_country_invoicing": draw(st.booleans()),
        "exhibition": draw(st.booleans()),
        "back_to_back": draw(st.booleans()),
        "issued_retroactively": True if late else draw(st.booleans()),
        "de_minimis": draw(st.booleans()),
        "accumulation": draw(st.booleans()),
        "partial_cumulation": draw(st.booleans()),
    }
    not_after = certified.toordinal() - _DAY0.toordinal()
    count = draw(st.integers(1, max_items))
    items = []
    for number in range(1, count + 1):
        criterion = draw(code("atiga-origin-criteria"))
        item = draw(
            st.fixed_dictionaries(
                {
                    "item_number": st.just(number),
                    "description": text(60),
                    "hs_code": st.from_regex(r"\A[0-9]{6}([0-9]{2}){0,2}\Z"),
                    "origin_criterion": st.just(criterion),
                },
                optional={
                    "marks_and_numbers": text(),
                    "package_count": st.integers(1, 100000000),
                    "package_type": code("unece-rec21-package-types"),
                    "quantity": measure(),
                    "gross_weight": measure(),
                    "fob_value": numbers(),
                },
            )
        )
        if criterion == "RVC":
            item["rvc_percent"] = draw(
                st.floats(min_value=0, max_value=100, exclude_min=True) | st.integers(1, 100)
            )
            item.setdefault("fob_value", draw(numbers()))
        items.append(item)
    document: dict[str, Any] = {
        "reference_number": draw(st.from_regex(r"\A[A-Z0-9][A-Z0-9/.\-]{4,39}\Z")),
        "issued_in": issued_in,
        "exporter": draw(
            st.fixed_dictionaries(
                {"name": text(), "address": text(), "country": st.just(issued_in)},
                optional={"tax_code": st.from_regex(r"\A[0-9]{10}([0-9]{3}|-[0-9]{3})?\Z")},
            )
        ),
        "consignee": {
            "name": draw(text()),
            "address": draw(text()),
            "country": draw(code("iso3166-alpha2")) if flags["third_country_invoicing"] else importing,
        },
        "transport": draw(
            st.fixed_dictionaries(
                {"departure_date": st.just(departure.isoformat()), "port_of_discharge": text()},
                optional={
                    "mode": code("unece-rec19-transport-modes"),
                    "vessel_or_aircraft": text(),
                    "port_of_loading": text(),
                },
            )
        ),
        "items": items,
        "invoices": draw(
            st.lists(
                st.fixed_dictionaries({"number": text(), "date": days(0, not_after).map(date.isoformat)}),
                min_size=1,
                max_size=3,
            )
        ),
        "declaration": {
            "producing_country": draw(code("iso3166-alpha2")),
            "importing_country": importing,
            "place": draw(text()),
            "date": draw(days(0, not_after)).isoformat(),
            "signatory_name": draw(text()),
        },
        "certification": {
            "issuing_authority": draw(text()),
            "place": draw(text()),
            "date": certified.isoformat(),
            "signatory_name": draw(text()),
        },
        "box13": flags,
    }
    if any("fob_value" in item for item in items):
        document["fob_currency"] = draw(code("iso4217-currencies"))
        if all("fob_value" in item for item in items) and draw(st.booleans()):
            document["total_fob_value"] = sum(item["fob_value"] for item in items)
    if flags["third_country_invoicing"]:
        document["third_country_invoice"] = {
            "operator_name": draw(text()),
            "operator_country": draw(code("iso3166-alpha2")),
        }
    if flags["exhibition"]:
        document["exhibition"] = {"name": draw(text()), "place": draw(text())}
    if flags["back_to_back"]:
        document["back_to_back"] = {
            "original_reference": draw(text()),
            "original_issued_on": draw(days()).isoformat(),
            "original_issuing_country": draw(st.sampled_from(asean)),
        }
    for key, strategy in (("dossier_number", text()), ("remarks", text(100))):
        if draw(st.booleans()):
            document[key] = draw(strategy)
    return document


def leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    """Every scalar of a JSON document by its JSON pointer."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, sub in value.items():
            out.update(leaves(sub, f"{prefix}/{key}"))
        return out
    if isinstance(value, list):
        out = {}
        for index, sub in enumerate(value):
            out.update(leaves(sub, f"{prefix}/{index}"))
        return out
    return {prefix: value}


def matches(pointer: str, pattern: str) -> bool:
    """True when a concrete pointer fits a pattern with `*` for any index."""
    got, want = pointer.split("/"), pattern.split("/")
    return len(got) == len(want) and all(w in ("*", g) for g, w in zip(got, want, strict=True))
