"""Art. 10.3 step 1: the connection-test plan, drawn up from the partner's agreement and P-Mode.

A plan is a document: a list of cases (id, step, purpose, steps, expected result)
with a `check` naming the automated check that runs it (or `manual`, a result the
operator records). The operator may add cases. It serialises to canonical JSON
(its digest is quoted in the minutes) and renders as a readable HTML page.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from html import escape
from typing import Any

from node.conntest.canonical import canonical_json

__all__ = ["CHECKS", "DEFAULT_MAX_MESSAGE_BYTES", "ConnectionTestPlan", "Step", "TestCase", "draw_up_plan"]


class Step(StrEnum):
    DOMESTIC = "domestic"  # Art. 10.3 step 2: NSW ↔ domestic systems
    FOREIGN = "foreign"  # Art. 10.3 step 4: NSW ↔ the partner's gateway


# check name -> (step, purpose, steps, expected result)
CHECKS: Mapping[str, tuple[Step, str, tuple[str, ...], str]] = {
    "node_api": (
        Step.DOMESTIC,
        "The ministries' submission endpoint of the NSW answers",
        ("Open the node's ministry API (/api/v1) over the configured listener",),
        "The API answers over HTTP(S) (any status below 500)",
    ),
    "ministry_webhook": (
        Step.DOMESTIC,
        "Each ministry's delivery endpoint (webhook) is reachable",
        ("Connect to each webhook URL of node.yaml `ministries:`", "Complete the TLS handshake if https"),
        "Every configured webhook accepts a connection",
    ),
    "mapping_eco": (
        Step.DOMESTIC,
        "The e-C/O mapping (ATIGA Form D) validates with a sample certificate",
        ("Map the domestic sample e-C/O to ATIGA Form D", "Validate the result"),
        "The sample maps without a validation error",
    ),
    "mapping_ephyto": (
        Step.DOMESTIC,
        "The ePhyto mapping (UN/CEFACT SPS) validates with a sample certificate",
        ("Map the domestic sample ePhyto to the SPS certificate", "Validate the result"),
        "The sample maps without a validation error",
    ),
    "tls_chain": (
        Step.FOREIGN,
        "TLS to the partner's gateway, with its certificate chain",
        ("Connect to the partner endpoint", "Verify its server certificate against the registered TLS CA"),
        "Handshake succeeds; the chain verifies and names the endpoint host",
    ),
    "test_ping": (
        Step.FOREIGN,
        "ebMS3 test service: a ping answered by a verified signed receipt",
        ("Send a UserMessage with the ebMS3 test service and action", "Verify the receipt's signature"),
        "A signed receipt whose signature and NonRepudiationInformation verify",
    ),
    "sample_eco": (
        Step.FOREIGN,
        "A sample e-C/O sent to the partner (test service, never delivered to a ministry)",
        ("Send the sample ATIGA Form D as a test-service message", "Verify the receipt"),
        "A verified signed receipt",
    ),
    "sample_ephyto": (
        Step.FOREIGN,
        "A sample ePhyto sent to the partner (test service)",
        ("Send the sample SPS certificate as a test-service message", "Verify the receipt"),
        "A verified signed receipt",
    ),
    "inbound_sample": (
        Step.FOREIGN,
        "The partner sends its samples to the NSW (the other direction)",
        ("The partner sends a test-service message with a sample document",),
        "The node received, verified and receipted a test message from the partner since the plan",
    ),
    "bad_signature": (
        Step.FOREIGN,
        "The partner refuses a message whose signature does not verify",
        ("Send a signed message whose payload was changed after signing",),
        "An ebMS error (EBMS:0101 FailedAuthentication or another failure), never a receipt",
    ),
    "duplicate": (
        Step.FOREIGN,
        "The partner eliminates duplicates",
        ("Send the same message (same MessageId) twice",),
        "Both answered; the partner reports a single delivery (the second is a duplicate)",
    ),
    "too_large": (
        Step.FOREIGN,
        "The partner refuses a message above the agreed size",
        ("Send a test message larger than the agreed maximum",),
        "The partner refuses it (ebMS error or HTTP 413), never a receipt",
    ),
    "manual": (
        Step.FOREIGN,
        "A case the operator added",
        (),
        "As described",
    ),
}

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
_DOCUMENT_TYPES_BY_TREATY = {"atiga": ("eco",), "asw": ("eco",), "ippc": ("ephyto",), "ephyto": ("ephyto",)}


@dataclass(frozen=True, slots=True)
class TestCase:
    """One case of the plan: what it proves, how, what must come out."""

    __test__ = False  # not a pytest class

    id: str
    step: Step
    purpose: str
    steps: tuple[str, ...]
    expected: str
    check: str = "manual"

    def __post_init__(self) -> None:
        if not self.id or not self.id.replace("-", "").isalnum():
            raise ValueError(f"case id {self.id!r} must be letters, digits and '-'")
        if self.check not in CHECKS:
            raise ValueError(f"case {self.id}: unknown check {self.check!r}")
        if not self.purpose or not self.expected:
            raise ValueError(f"case {self.id}: a case names its purpose and its expected result")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "step": self.step.value,
            "purpose": self.purpose,
            "steps": list(self.steps),
            "expected": self.expected,
            "check": self.check,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TestCase:
        return cls(
            id=str(data["id"]),
            step=Step(data["step"]),
            purpose=str(data["purpose"]),
            steps=tuple(str(s) for s in data.get("steps", ())),
            expected=str(data["expected"]),
            check=str(data.get("check", "manual")),
        )


@dataclass(frozen=True, slots=True)
class ConnectionTestPlan:
    """The plan for one partner (Art. 10.3 step 1). `foreign` is False for a domestic connection."""

    partner_id: str
    party_id: str
    agreement: str
    document_types: tuple[str, ...]
    drawn_up_at: str
    cases: tuple[TestCase, ...]
    foreign: bool = True
    endpoint: str = ""
    pmode: Mapping[str, Any] = field(default_factory=dict)
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES  # the agreed size limit the too_large case exceeds

    def __post_init__(self) -> None:
        if self.max_message_bytes < 1024:
            raise ValueError("the agreed maximum message size is at least 1 KiB")
        ids = [case.id for case in self.cases]
        if len(set(ids)) != len(ids):
            raise ValueError("case ids in a plan are unique")
        if not self.cases:
            raise ValueError("a plan has at least one case")

    def with_case(self, case: TestCase) -> ConnectionTestPlan:
        """The plan with one more case (the operator's addition)."""
        return replace(self, cases=(*self.cases, case))

    def case(self, case_id: str) -> TestCase:
        for case in self.cases:
            if case.id == case_id:
                return case
        raise KeyError(case_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "aswnode.conntest.plan/1",
            "partner_id": self.partner_id,
            "party_id": self.party_id,
            "agreement": self.agreement,
            "document_types": list(self.document_types),
            "drawn_up_at": self.drawn_up_at,
            "foreign": self.foreign,
            "endpoint": self.endpoint,
            "pmode": dict(self.pmode),
            "max_message_bytes": self.max_message_bytes,
            "cases": [case.to_dict() for case in self.cases],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConnectionTestPlan:
        return cls(
            partner_id=data["partner_id"],
            party_id=data["party_id"],
            agreement=data["agreement"],
            document_types=tuple(data["document_types"]),
            drawn_up_at=data["drawn_up_at"],
            cases=tuple(TestCase.from_dict(c) for c in data["cases"]),
            foreign=bool(data.get("foreign", True)),
            endpoint=data.get("endpoint", ""),
            pmode=dict(data.get("pmode") or {}),
            max_message_bytes=int(data.get("max_message_bytes", DEFAULT_MAX_MESSAGE_BYTES)),
        )

    def canonical(self) -> bytes:
        return canonical_json(self.to_dict())

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.canonical()).hexdigest()

    def render_html(self) -> str:
        """A readable, print-ready page of the plan."""
        rows = "\n".join(
            "<tr><td>{id}</td><td>{step}</td><td>{purpose}</td><td><ol>{steps}</ol></td><td>{exp}</td></tr>".format(
                id=escape(c.id),
                step=escape(c.step.value),
                purpose=escape(c.purpose),
                steps="".join(f"<li>{escape(s)}</li>" for s in c.steps),
                exp=escape(c.expected),
            )
            for c in self.cases
        )
        title = f"Connection test plan — {escape(self.partner_id)}"
        return (
            '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{title}</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #888;padding:4px 8px;vertical-align:top}"
            "@media print{body{margin:0}}</style></head><body>\n"
            f"<h1>{title}</h1>\n"
            "<p>Seed 000 Art. 10.3 step 1: the NSW management unit draws up the test plan "
            "and its content.</p>\n"
            "<dl>"
            f"<dt>Partner</dt><dd>{escape(self.partner_id)} (party id {escape(self.party_id)})</dd>"
            f"<dt>Agreement</dt><dd>{escape(self.agreement)}</dd>"
            f"<dt>Endpoint</dt><dd>{escape(self.endpoint)}</dd>"
            f"<dt>Documents</dt><dd>{escape(', '.join(self.document_types))}</dd>"
            f"<dt>Agreed maximum message size</dt><dd>{self.max_message_bytes} bytes</dd>"
            f"<dt>Drawn up</dt><dd>{escape(self.drawn_up_at)}</dd>"
            f"<dt>Digest</dt><dd><code>{escape(self.digest)}</code></dd>"
            "</dl>\n<table><thead><tr><th>Case</th><th>Step</th><th>Purpose</th><th>Steps</th>"
            f"<th>Expected result</th></tr></thead><tbody>\n{rows}\n</tbody></table>\n</body></html>\n"
        )


def _document_types(agreement: str, pmode: Mapping[str, Any]) -> tuple[str, ...]:
    declared = pmode.get("document_types")
    if isinstance(declared, list | tuple) and declared:
        return tuple(str(d) for d in declared)
    lowered = agreement.lower()
    for key, types in _DOCUMENT_TYPES_BY_TREATY.items():
        if key in lowered:
            return types
    return ("eco", "ephyto")


def _case(case_id: str, check: str, purpose: str | None = None) -> TestCase:
    step, default_purpose, steps, expected = CHECKS[check]
    return TestCase(case_id, step, purpose or default_purpose, steps, expected, check)


def draw_up_plan(
    *,
    partner_id: str,
    party_id: str,
    endpoint: str,
    agreement: str | None,
    treaty: str | None,
    pmode: Mapping[str, Any],
    now: datetime,
    foreign: bool = True,
    extra_cases: Iterable[TestCase] = (),
    max_message_bytes: int | None = None,
) -> ConnectionTestPlan:
    """The plan for a partner: domestic cases, then (for a foreign connection) the gateway cases.

    Which sample documents are exchanged follows the agreement/treaty (ATIGA → e-C/O,
    IPPC → ePhyto, otherwise both) or the P-Mode's `document_types`.
    """
    agreement_text = agreement or treaty or "unspecified agreement"
    types = _document_types(f"{agreement or ''} {treaty or ''}", pmode)
    cases = [_case("D-1", "node_api"), _case("D-2", "ministry_webhook")]
    if "eco" in types:
        cases.append(_case(f"D-{len(cases) + 1}", "mapping_eco"))
    if "ephyto" in types:
        cases.append(_case(f"D-{len(cases) + 1}", "mapping_ephyto"))
    if foreign:
        foreign_checks = ["tls_chain", "test_ping"]
        foreign_checks += [f"sample_{t}" for t in types if f"sample_{t}" in CHECKS]
        foreign_checks += ["inbound_sample", "bad_signature", "duplicate", "too_large"]
        cases += [_case(f"F-{n}", check) for n, check in enumerate(foreign_checks, start=1)]
    plan = ConnectionTestPlan(
        partner_id=partner_id,
        party_id=party_id,
        agreement=agreement_text,
        document_types=types,
        drawn_up_at=now.isoformat(),
        cases=tuple(cases),
        foreign=foreign,
        endpoint=endpoint,
        pmode=dict(pmode),
        max_message_bytes=max_message_bytes or DEFAULT_MAX_MESSAGE_BYTES,
    )
    for extra in extra_cases:
        plan = plan.with_case(extra)
    return plan
