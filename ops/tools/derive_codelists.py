#!/usr/bin/env python3
# ruff: noqa: E501  (long provenance sentences are data)
"""Write the code lists of mappings/codelists/data/ from their sources (one-off build step).

UN/CEFACT D17A code-list schemas (../shared/vectors/ephyto/xsd/D17A, origin
github.com/matsubo/uncefact @ ecd5aa36, tag 2017_17a) give ISO 3166-1 alpha-2, ISO 4217,
UN/ECE Rec 19, 20 (the unit subsets of D17A) and 21. The lists the schemas do not carry
(ATIGA origin criteria, ASEAN member states, IPPC ePhyto terms) are written here by hand,
each with its source and a note on how far it can be trusted. The output files are data.

    /work/main/.venv/bin/python ops/tools/derive_codelists.py [D17A-DIR] [OUTDIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_D17A = ROOT.parent / "shared/vectors/ephyto/xsd/D17A"
DEFAULT_OUT = ROOT / "mappings/codelists/data"
XS = "{http://www.w3.org/2001/XMLSchema}"
UNCEFACT = "UN/CEFACT D17A code-list schema {path} (github.com/matsubo/uncefact @ ecd5aa36, tag 2017_17a)"


def enumerations(path: Path) -> dict[str, str]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    doc = etree.parse(str(path), parser)
    out: dict[str, str] = {}
    for enum in doc.iter(f"{XS}enumeration"):
        name = enum.find(".//{*}Name")
        out[enum.get("value")] = " ".join((name.text or "").split()) if name is not None else ""
    return out


def derived(d17a: Path, rel: str) -> tuple[dict[str, str], str, str]:
    path = d17a / rel
    head = path.read_text(encoding="utf-8")[:2000]
    version = next(
        (ln.split(":", 1)[1].strip() for ln in head.splitlines() if ln.startswith("Code list version:")), ""
    )
    return enumerations(path), UNCEFACT.format(path=rel), version


def write(
    out: Path, list_id: str, name: str, source: str, version: str, codes: dict[str, str], note: str
) -> None:
    body = {
        "id": list_id,
        "name": name,
        "source": source,
        "version": version,
        "note": note,
        "codes": dict(sorted(codes.items())),
    }
    (out / f"{list_id}.json").write_text(
        json.dumps(body, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    print(out / f"{list_id}.json", len(codes))


def main(argv: list[str]) -> int:
    d17a = Path(argv[1]) if len(argv) > 1 else DEFAULT_D17A
    out = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)

    codes, src, ver = derived(
        d17a, "identifierlist/standard/ISO_ISOTwo-letterCountryCode_SecondEdition2006.xsd"
    )
    later = {
        "BQ": "BONAIRE, SINT EUSTATIUS AND SABA",
        "CW": "CURAÇAO",
        "SS": "SOUTH SUDAN",
        "SX": "SINT MAARTEN",
    }
    write(
        out,
        "iso3166-alpha2",
        "ISO 3166-1 alpha-2 country codes",
        src,
        ver,
        {**codes, **later},
        "The D17A list is ISO 3166-1 second edition (2006); the four codes ISO assigned since (BQ, CW, SS, SX, 2010-2011) "
        "are added here. AN (dissolved 2010) is kept because older certificates may carry it.",
    )

    codes, src, ver = derived(d17a, "codelist/standard/ISO_ISO3AlphaCurrencyCode_2012-08-31.xsd")
    write(
        out,
        "iso4217-currencies",
        "ISO 4217 alphabetic currency codes",
        src,
        ver,
        codes,
        "As published in D17A.",
    )

    codes, src, ver = derived(d17a, "codelist/standard/UNECE_TransportModeCode_2.xsd")
    write(
        out,
        "unece-rec19-transport-modes",
        "UN/ECE Recommendation 19 modes of transport",
        src,
        ver,
        codes,
        "As published in D17A.",
    )

    codes, src, ver = derived(d17a, "codelist/standard/UNECE_PackageTypeCode_2006.xsd")
    write(
        out,
        "unece-rec21-package-types",
        "UN/ECE Recommendation 21 package types",
        src,
        ver,
        codes,
        "As published in D17A.",
    )

    units: dict[str, str] = {}
    for subset in ("Weight", "Volume", "Linear", "Temperature", "Duration"):
        codes, _, ver = derived(d17a, f"codelist/standard/UNECE_MeasurementUnitCommonCode{subset}_4.xsd")
        units.update(codes)
    units.update(
        {
            "GRM": "gram",
            "MGM": "milligram",
            "LTR": "litre",
            "MLT": "millilitre",
            "H87": "piece",
            "NAR": "number of articles",
            "C62": "one",
            "A93": "gram per cubic metre",
            "GL": "gram per litre",
            "KX": "millilitre per kilogram",
            "M1": "milligram per litre",
            "P1": "percent",
            "MTK": "square metre",
        }
    )
    write(
        out,
        "unece-rec20-units",
        "UN/ECE Recommendation 20 units of measure (trade subset)",
        "UN/CEFACT D17A code-list schemas UNECE_MeasurementUnitCommonCode{Weight,Volume,Linear,Temperature,Duration}_4.xsd "
        "(github.com/matsubo/uncefact @ ecd5aa36) plus thirteen Rec 20 codes added by hand",
        ver,
        units,
        "D17A ships only unit subsets, not the full Rec 20 list. Added by hand from Rec 20 (rev. 17): GRM, MGM, LTR, "
        "MLT, H87, NAR, C62, A93, GL, KX, M1, P1, MTK (quantities, dosages and concentrations used on ePhytos).",
    )

    names = enumerations(d17a / "codelist/standard/UNECE_DocumentNameCode_D16B.xsd")
    write(
        out,
        "ippc-certificate-types",
        "IPPC ePhyto certificate types (UN/CEFACT 1001 subset)",
        "UN/CEFACT D17A UNECE_DocumentNameCode_D16B.xsd; subset used by IPPC ePhyto (ephyto.ippc.int Links 3 and 4)",
        "D16B",
        {"851": names["851"], "657": names["657"]},
        "Only the two document types of the IPPC ePhyto: export (851) and re-export (657).",
    )

    write(
        out,
        "ippc-certificate-statuses",
        "IPPC ePhyto certificate status codes",
        "IPPC ePhyto Hub usage "
        "(SPSExchangedDocument/StatusCode and the Hub envelope CertificateStatus); compiled by the project",
        "interim-2026-11",
        {"70": "Issued", "39": "Approved", "40": "Withdrawn", "41": "Rejected"},
        "Interim: these are the codes the IPPC ePhyto Hub is known to exchange (70 on both vector samples); "
        "the D16B edition of UN/CEFACT 1373 shipped here does not define 40, 41 or 70. Check against the IPPC "
        "ePhyto mapping guide before production.",
    )

    write(
        out,
        "atiga-origin-criteria",
        "ATIGA Form D box 8 origin criteria",
        "ATIGA Annex 7 (Form D) overleaf notes and Annex 8 (Operational Certification Procedures), as summarised in "
        "../shared/vectors/eformd/ATIGA-eFormD-and-ACDD-FACTS.md; compiled by the project",
        "ATIGA-2009-rev",
        {
            "WO": "Wholly obtained or produced in the exporting Member State (Article 27)",
            "PE": "Produced entirely in the exporting Member State exclusively from originating materials",
            "RVC": "Regional value content (percentage stated, e.g. RVC 40%)",
            "CTH": "Change in tariff heading (4-digit)",
            "CTSH": "Change in tariff sub-heading (6-digit)",
            "CC": "Change in chapter (2-digit)",
            "PSR": "Product-specific rule (Annex 3) complied with",
        },
        "Box 8 codes of the revised Form D overleaf notes. The fact sheet marks the exact wording as not verified "
        "against the official overleaf notes: check before production.",
    )

    write(
        out,
        "asean-member-states",
        "ASEAN Member States (ATIGA parties)",
        "ATIGA (2009), Article 1 and the ASEAN Charter; ISO 3166-1 alpha-2 codes",
        "2009",
        {
            "BN": "Brunei Darussalam",
            "KH": "Cambodia",
            "ID": "Indonesia",
            "LA": "Lao PDR",
            "MY": "Malaysia",
            "MM": "Myanmar",
            "PH": "Philippines",
            "SG": "Singapore",
            "TH": "Thailand",
            "VN": "Viet Nam",
        },
        "Form D is exchanged only between these ten states.",
    )

    write(
        out,
        "ippc-commodity-classes",
        "IPPC ePhyto commodity classes (product description, IPPCPCVP)",
        "IPPC ePhyto harmonized terms, Link 8 'IPPC commodity class' (ephyto.ippc.int/Commodities); compiled by the project",
        "interim-2026-11",
        {
            "Bulbs and tubers": "Bulbs, tubers, corms and rhizomes",
            "Cut flowers and branches": "Cut flowers and branches",
            "Fruits and vegetables": "Fresh fruits and vegetables",
            "Grain": "Grain",
            "Plants": "Plants for planting",
            "Seeds": "Seeds",
            "Stored plant products": "Stored plant products",
            "Wood": "Wood and wood products",
            "Pollen": "Pollen",
            "Plant tissue culture": "Plant tissue culture",
            "Other": "Other regulated articles",
        },
        "Interim: the authoritative list is served only by the Hub GetProductDescriptions operation (not reachable "
        "here); the Mattilsynet sample uses 'Seeds'. Replace with a Hub dump before production.",
    )

    write(
        out,
        "ippc-product-conditions",
        "IPPC ePhyto product conditions (product description, IPPCPCC)",
        "IPPC ePhyto Hub GetConditions (names as used on sample certificates); compiled by the project",
        "interim-2026-11",
        {
            "Fresh": "Fresh",
            "Chilled": "Chilled",
            "Frozen": "Frozen",
            "Dried": "Dried",
            "Rooted": "Rooted",
            "Unrooted": "Unrooted",
            "In vitro": "In vitro",
            "Processed": "Processed",
            "Debarked": "Debarked",
            "Heat-treated": "Heat-treated",
            "Other": "Other",
        },
        "Interim: the Hub serves the authoritative list; the Mattilsynet sample uses 'Fresh' and 'Rooted'.",
    )

    write(
        out,
        "ippc-treatment-types",
        "IPPC ePhyto treatment types (AppliedSPSProcess/TypeCode)",
        "IPPC ePhyto harmonized terms, Link 11 'IPPC treatment types'; compiled by the project",
        "interim-2026-11",
        {
            "CHEM": "Chemical treatment",
            "FUMI": "Fumigation",
            "HEAT": "Heat treatment",
            "COLD": "Cold treatment",
            "IRRA": "Irradiation",
            "HWAT": "Hot water treatment",
            "VHT": "Vapour heat treatment",
            "KD": "Kiln drying",
            "SYST": "Systems approach",
            "ZZZ": "Other (described in the characteristics)",
        },
        "Interim codes: the authoritative list is served only by the Hub GetTreatmentTypes operation (not reachable "
        "here). The Mattilsynet sample uses ZZZ. Replace with a Hub dump before production.",
    )

    write(
        out,
        "ippc-intended-uses",
        "IPPC ePhyto intended uses",
        "IPPC ePhyto Hub GetIntendedUses (names as used on sample certificates); compiled by the project",
        "interim-2026-11",
        {
            "Planting": "Planting",
            "Consumption": "Consumption",
            "Processing": "Processing",
            "Propagation": "Propagation",
            "Research": "Research",
            "Decorative": "Decorative / ornamental",
            "Sowing": "Sowing",
            "Other": "Other",
        },
        "Interim: the Hub serves the authoritative list; the Mattilsynet sample uses 'Planting'.",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
