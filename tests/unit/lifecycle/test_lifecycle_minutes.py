"""Art. 10.3 step 3: minutes signed by the node's key; any change after signing is detected."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from certs.pki import generate_node_pki
from node.conntest.minutes import (
    CaseResult,
    MinutesInvalid,
    NodeSigner,
    Outcome,
    SignedMinutes,
    draw_up_minutes,
    verify_minutes,
)
from node.conntest.plan import draw_up_plan

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> NodeSigner:
    pki = generate_node_pki(tmp_path_factory.mktemp("pki"), "VN-NSW")
    return NodeSigner.from_files(pki.signing.key, pki.signing.cert)


PLAN = draw_up_plan(
    partner_id="th",
    party_id="TH",
    endpoint="https://th/as4",
    agreement="ATIGA",
    treaty=None,
    pmode={},
    now=NOW,
)


def all_passed() -> list[CaseResult]:
    return [
        CaseResult(
            c.id, Outcome.PASSED, NOW.isoformat(), NOW.isoformat(), evidence={"message_id": f"m-{c.id}"}
        )
        for c in PLAN.cases
    ]


def minutes(signer: NodeSigner, results: list[CaseResult]) -> SignedMinutes:
    return draw_up_minutes(
        PLAN, results, node_party_id="VN", environment="production", now=NOW, signer=signer
    )


def test_minutes_of_a_passed_test_verify_against_the_node_certificate(signer: NodeSigner) -> None:
    signed = minutes(signer, all_passed())
    verify_minutes(signed, trusted=signer.certificate)
    assert signed.passed and signed.signature["alg"] == "PS256"
    assert signed.document["plan_digest"] == PLAN.digest


def test_a_changed_result_is_detected(signer: NodeSigner) -> None:
    signed = minutes(signer, all_passed()[:-1])
    assert not signed.passed
    document = signed.document
    document["cases"][-1]["outcome"] = "passed"
    document["outcome"] = "passed"
    forged = SignedMinutes(
        json.dumps(document, sort_keys=True, separators=(",", ":")).encode(), signed.signature
    )
    with pytest.raises(MinutesInvalid, match="changed after signing"):
        verify_minutes(forged)


def test_a_non_canonical_body_is_refused(signer: NodeSigner) -> None:
    signed = minutes(signer, all_passed())
    with pytest.raises(MinutesInvalid, match="canonical"):
        verify_minutes(SignedMinutes(signed.body + b" ", signed.signature))


def test_minutes_signed_by_another_key_are_refused(signer: NodeSigner, tmp_path: Path) -> None:
    other = generate_node_pki(tmp_path, "MALLORY")
    forged = minutes(NodeSigner.from_files(other.signing.key, other.signing.cert), all_passed())
    verify_minutes(forged)  # self-consistent ...
    with pytest.raises(MinutesInvalid, match="another certificate"):
        verify_minutes(forged, trusted=signer.certificate)  # ... but not the node's


def test_a_case_without_result_is_not_run_and_the_test_fails(signer: NodeSigner) -> None:
    signed = minutes(signer, all_passed()[1:])
    first = signed.document["cases"][0]
    assert first["outcome"] == "not_run" and signed.document["outcome"] == "failed"


def test_a_failed_case_must_say_why() -> None:
    with pytest.raises(ValueError, match="what failed"):
        CaseResult("F-1", Outcome.FAILED, NOW.isoformat(), NOW.isoformat())


def test_the_minutes_page_lists_every_case_with_its_result_and_the_confirmations(signer: NodeSigner) -> None:
    signed = minutes(signer, all_passed()[:-1])
    page = signed.render_html([{"role": "ministry", "name": "Lan <MARD>", "at": NOW.isoformat()}])
    assert signed.digest in page and "not_run" in page and "passed" in page
    assert "Lan &lt;MARD&gt;" in page
    for case in PLAN.cases:
        assert f"<td>{case.id}</td>" in page
