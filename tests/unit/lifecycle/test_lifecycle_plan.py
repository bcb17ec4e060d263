"""Art. 10.3 step 1: the plan follows the partner's agreement and P-Mode; the operator may add cases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from node.conntest.plan import ConnectionTestPlan, Step, TestCase, draw_up_plan

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def plan(**overrides) -> ConnectionTestPlan:  # type: ignore[no-untyped-def]
    args = dict(
        partner_id="th-nsw",
        party_id="TH-NSW",
        endpoint="https://gw.example.th/as4",
        agreement="ATIGA e-Form D exchange via ASW",
        treaty=None,
        pmode={},
        now=NOW,
    )
    args.update(overrides)
    return draw_up_plan(**args)


def test_an_atiga_partner_gets_e_co_cases_and_every_foreign_case_of_step_4() -> None:
    checks = [c.check for c in plan().cases]
    assert "mapping_eco" in checks and "sample_eco" in checks
    assert "mapping_ephyto" not in checks and "sample_ephyto" not in checks
    for needed in ("tls_chain", "test_ping", "inbound_sample", "bad_signature", "duplicate", "too_large"):
        assert needed in checks


def test_an_ippc_partner_gets_ephyto_cases() -> None:
    checks = [c.check for c in plan(agreement=None, treaty="IPPC ePhyto hub").cases]
    assert "sample_ephyto" in checks and "sample_eco" not in checks


def test_the_pmode_may_name_the_document_types() -> None:
    assert plan(pmode={"document_types": ["eco", "ephyto"]}).document_types == ("eco", "ephyto")


def test_a_domestic_connection_has_only_domestic_cases() -> None:
    assert {c.step for c in plan(foreign=False).cases} == {Step.DOMESTIC}


def test_every_case_has_id_purpose_steps_and_expected_result() -> None:
    for case in plan().cases:
        assert case.id and case.purpose and case.expected
        assert case.steps or case.check == "manual"


def test_the_operator_adds_a_case_and_the_digest_changes() -> None:
    base = plan()
    extra = TestCase(
        "X-1", Step.FOREIGN, "Large ePhyto with 3 attachments", ("send it",), "receipt", "manual"
    )
    added = base.with_case(extra)
    assert added.case("X-1") == extra and added.digest != base.digest


def test_case_ids_are_unique() -> None:
    base = plan()
    with pytest.raises(ValueError, match="unique"):
        base.with_case(base.cases[0])


def test_the_plan_round_trips_through_json_with_the_same_digest() -> None:
    base = plan()
    assert ConnectionTestPlan.from_dict(base.to_dict()).digest == base.digest


def test_the_html_page_lists_every_case_and_escapes_text() -> None:
    html = plan(agreement="<script>x</script> ATIGA").render_html()
    assert "<script>x" not in html and "&lt;script&gt;" in html
    for case in plan().cases:
        assert f"<td>{case.id}</td>" in html
