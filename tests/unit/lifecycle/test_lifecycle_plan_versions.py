"""Adding a case makes a new version of the plan; the results already recorded stay with their cases."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import select

from node.conntest.minutes import CaseResult, Outcome
from node.conntest.plan import Step, TestCase
from node.lifecycle.service import LifecycleError
from node.store.models import AuditRecord

M1 = TestCase("M-1", Step.DOMESTIC, "Customs reads the e-C/O in VNACCS", ("open it",), "it is shown")


def outcomes(node) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {r.case_id: r.outcome.value for r in node.do(node.procedure.results, "th")}


def record(node, case_id: str, outcome: Outcome, detail: str = "observed") -> None:  # type: ignore[no-untyped-def]
    node.do(node.procedure.record_manual, "operator:alice", "th", case_id, outcome, detail, {"ref": case_id})


def test_adding_a_case_keeps_the_results_already_recorded(node) -> None:  # type: ignore[no-untyped-def]
    before = node.do(node.procedure.draw_up_plan, "operator:alice", "th", foreign=False)
    record(node, "D-1", Outcome.PASSED)
    record(node, "D-2", Outcome.FAILED, "webhook refused")
    node.clock.advance(minutes=5)
    after = node.do(node.procedure.add_case, "operator:bob", "th", M1)
    assert outcomes(node) == {"D-1": "passed", "D-2": "failed"}
    [d1] = [r for r in node.do(node.procedure.results, "th") if r.case_id == "D-1"]
    # What was run, when and how is kept; the evidence says under which version it was run.
    assert d1.detail == "observed" and d1.finished_at == before.drawn_up_at
    assert d1.evidence == {"ref": "D-1", "recorded_under_plan": before.digest}

    minutes = node.do(node.procedure.draw_up_minutes, "operator:alice", "th")
    document = json.loads(minutes.body)
    assert document["plan_digest"] == after.digest
    assert {c["id"]: c["outcome"] for c in document["cases"]} == {
        "D-1": "passed",
        "D-2": "failed",
        "D-3": "not_run",
        "M-1": "not_run",
    }
    [carry] = node.do(
        lambda s: [r for r in s.scalars(select(AuditRecord)) if r.action == "conntest.results.carry"]
    )
    detail = json.loads(carry.detail)
    assert carry.actor == "operator:bob" and detail["plan_digest"] == after.digest
    assert detail["from_plan_digest"] == before.digest
    assert detail["cases"] == ["D-1", "D-2"] and detail["not_carried"] == []


def test_results_survive_several_additions_and_the_latest_result_of_a_case_wins(node) -> None:  # type: ignore[no-untyped-def]
    first = node.do(node.procedure.draw_up_plan, "operator:alice", "th", foreign=False)
    record(node, "D-1", Outcome.FAILED, "no answer")
    record(node, "D-1", Outcome.PASSED)
    node.do(node.procedure.add_case, "operator:alice", "th", M1)
    record(node, "M-1", Outcome.PASSED, "seen in VNACCS")
    extra = TestCase("M-2", Step.DOMESTIC, "A second added case", (), "as described")
    node.do(node.procedure.add_case, "operator:alice", "th", extra)
    results = {r.case_id: r for r in node.do(node.procedure.results, "th")}
    assert {k: r.outcome.value for k, r in results.items()} == {"D-1": "passed", "M-1": "passed"}
    # Carried twice, a result still names the version it was run under.
    assert results["D-1"].evidence["recorded_under_plan"] == first.digest
    assert results["M-1"].evidence["recorded_under_plan"] != first.digest


def test_passing_every_case_after_an_addition_passes_the_test(node) -> None:  # type: ignore[no-untyped-def]
    node.do(node.procedure.draw_up_plan, "operator:alice", "th")
    node.pass_every_case()
    node.do(node.procedure.add_case, "operator:alice", "th", M1)
    record(node, "M-1", Outcome.PASSED)
    assert node.do(node.procedure.draw_up_minutes, "operator:alice", "th").outcome == "passed"


def test_a_new_plan_drawn_up_starts_the_test_again_without_the_old_results(node) -> None:  # type: ignore[no-untyped-def]
    node.do(node.procedure.draw_up_plan, "operator:alice", "th", foreign=False)
    record(node, "D-1", Outcome.PASSED)
    node.clock.advance(hours=1)
    node.do(node.procedure.draw_up_plan, "operator:alice", "th", foreign=False)
    assert outcomes(node) == {}


def test_a_case_that_changed_or_left_the_plan_does_not_carry_its_result(node) -> None:  # type: ignore[no-untyped-def]
    from node.lifecycle.service import carried_results

    old = node.do(node.procedure.draw_up_plan, "operator:alice", "th", foreign=False)
    d1, d2, *rest = old.cases
    changed = TestCase(d2.id, d2.step, d2.purpose, (*d2.steps, "and one more step"), d2.expected, d2.check)
    new = replace(old, cases=(d1, changed))
    results = [
        CaseResult(case.id, Outcome.PASSED, old.drawn_up_at, old.drawn_up_at, "ok", {})
        for case in (d1, d2, *rest)
    ]
    carried, dropped = carried_results(old, new, results)
    assert [r.case_id for r in carried] == ["D-1"]
    assert dropped == [d2.id, *(case.id for case in rest)]


def test_a_refused_addition_keeps_the_plan_and_its_results(node) -> None:  # type: ignore[no-untyped-def]
    plan = node.do(node.procedure.draw_up_plan, "operator:alice", "th", foreign=False)
    record(node, "D-1", Outcome.PASSED)
    with pytest.raises(LifecycleError, match="unique"):
        node.do(node.procedure.add_case, "operator:alice", "th", replace(M1, id="D-1"))
    assert node.do(node.procedure.current_plan, "th")[1].digest == plan.digest
    assert outcomes(node) == {"D-1": "passed"}


def test_the_command_line_status_keeps_a_result_after_add_case(production_cli) -> None:  # type: ignore[no-untyped-def]
    node, d = production_cli, str(production_cli.directory)
    node.run("conntest", "plan", d, "far", "--domestic-only")
    node.run("conntest", "record", d, "far", "D-1", "--passed")
    node.run(
        "conntest",
        "add-case",
        d,
        "far",
        "--id",
        "M-1",
        "--step",
        "domestic",
        "--purpose",
        "Customs reads the e-C/O",
        "--expected",
        "VNACCS shows it",
    )
    status = json.loads(node.run("conntest", "status", d, "far").stdout)
    by_id = {c["id"]: c["outcome"] for c in status["cases"]}
    assert by_id["D-1"] == "passed" and by_id["M-1"] == "not_run"
