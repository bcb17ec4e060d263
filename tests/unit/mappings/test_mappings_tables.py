"""The published tables come from the running rules: every domestic field appears, in every format."""

from __future__ import annotations

import csv
import io

import click
import pytest
from click.testing import CliRunner

from mappings import domestic
from mappings.registry import profile
from mappings.tables import COLUMNS, render
from node.cli.mappings import register


def _csv_rows(document_type: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(render(document_type, "csv"))))


@pytest.mark.parametrize("document_type", ["eco", "ephyto"])
def test_every_domestic_schema_field_appears_in_the_published_table(document_type: str) -> None:
    rows = _csv_rows(document_type)
    published = {"/".join("*" if p.isdigit() else p for p in r["domestic field"].split("/")) for r in rows}
    assert {f.pointer for f in domestic.fields(document_type)} <= published
    assert len(rows) >= 25
    assert all(r["Vietnamese label"] for r in rows)


@pytest.mark.parametrize("document_type", ["eco", "ephyto"])
def test_the_table_lists_the_unmapped_fields_with_their_reason(document_type: str) -> None:
    rows = {r["domestic field"]: r for r in _csv_rows(document_type)}
    for pointer in profile(document_type).unmapped_fields:
        assert rows[pointer]["transformation"].startswith("not mapped: ")


def test_table_rows_follow_the_rules() -> None:
    rows = {r["domestic field"]: r for r in _csv_rows("ephyto")}
    row = rows["/items/*/net_weight/unit"]
    assert row["treaty element path"].endswith("ram:IncludedSPSTradeLineItem/ram:NetWeightMeasure/@unitCode")
    assert row["code list"] == "unece-rec20-units"
    assert rows["/additional_declarations/*"]["treaty element path"].endswith(
        "ram:IncludedSPSNote[ram:Subject='ADEDL']/ram:Content"
    )


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_markdown_and_html_tables_have_the_columns_and_every_field(fmt: str) -> None:
    text = render("eco", fmt)
    assert all(column in text for column in COLUMNS)
    assert all(f.pointer.replace("*", "") in text.replace("*", "") for f in domestic.fields("eco"))


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError):
        render("eco", "pdf")


def _cli() -> click.Group:
    group = click.Group("aswnode")
    register(group)
    return group


@pytest.mark.parametrize("document_type", ["eco", "ephyto"])
def test_the_cli_prints_the_csv_table(document_type: str) -> None:
    result = CliRunner().invoke(_cli(), ["mappings", "table", document_type, "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output == render(document_type, "csv")


def test_the_cli_defaults_to_markdown_and_names_an_unknown_version_in_one_line() -> None:
    runner = CliRunner()
    assert runner.invoke(_cli(), ["mappings", "table", "eco"]).output.startswith("# eco")
    result = runner.invoke(_cli(), ["mappings", "table", "eco", "--version", "9"])
    assert result.exit_code == 1 and "no eco profile version '9'" in result.output
    assert "Traceback" not in result.output
