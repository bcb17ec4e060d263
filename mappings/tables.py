"""The published field-by-field mapping tables (Art. 10.1), printed from the profiles' own rules."""

from __future__ import annotations

import csv
import html
import io

from mappings.profile import TableRow
from mappings.registry import profile

__all__ = ["COLUMNS", "FORMATS", "render"]

COLUMNS = (
    "domestic field",
    "Vietnamese label",
    "treaty element path",
    "code list",
    "cardinality",
    "transformation",
)
FORMATS = ("md", "html", "csv")


def _cells(row: TableRow) -> tuple[str, ...]:
    return (
        row.domestic_field,
        row.label_vi,
        row.treaty_path,
        row.codelist,
        row.cardinality,
        row.transformation,
    )


def render(document_type: str, fmt: str = "md", version: str | None = None) -> str:
    """The mapping table of `document_type` as Markdown, HTML or CSV text."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown table format {fmt!r}; use one of {', '.join(FORMATS)}")
    chosen = profile(document_type, version)
    rows = [_cells(r) for r in chosen.table()]
    title = f"{document_type} ⇄ {chosen.treaty_format} (profile {chosen.version})"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        return out.getvalue()
    if fmt == "md":

        def cell(text: str) -> str:
            return text.replace("|", "\\|").replace("\n", " ")

        lines = [f"# {cell(title)}", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
        return "\n".join(lines) + "\n"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "\n".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n"
        f"<body><h1>{html.escape(title)}</h1>\n<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n"
        "</table></body></html>\n"
    )
