"""The exchange gate: partner state, a suspension of all exchanges in force, and the incident hold."""

from __future__ import annotations

from datetime import datetime, timedelta

from node.lifecycle.gate import exchange_refusal, outbound_hold
from node.lifecycle.service import SuspensionCause


def activate(node) -> None:  # type: ignore[no-untyped-def]
    node.do(node.procedure.draw_up_plan, "operator:alice", "th")
    node.pass_every_case()
    node.do(node.procedure.draw_up_minutes, "operator:alice", "th")
    node.confirm_all()
    node.do(node.procedure.golive, "operator:alice", "th", node.clock.now + timedelta(minutes=1))
    node.clock.advance(minutes=1)
    node.do(node.procedure.activate_due)


def refusal(node, *, test: bool = False, at: datetime | None = None):  # type: ignore[no-untyped-def]
    return node.do(exchange_refusal, "th", test_message=test, now=at or node.clock.now, sandbox=False)


def test_a_partner_in_testing_gets_only_the_test_service(node) -> None:  # type: ignore[no-untyped-def]
    node.do(node.procedure.draw_up_plan, "operator:alice", "th")
    assert refusal(node, test=True) is None
    business = refusal(node)
    assert business is not None and business.http_status == 409 and "testing" in business.reason


def test_an_unknown_partner_is_registered_in_production(node) -> None:  # type: ignore[no-untyped-def]
    assert (
        node.do(exchange_refusal, "nobody", test_message=True, now=node.clock.now, sandbox=False) is not None
    )
    assert node.do(exchange_refusal, "nobody", test_message=False, now=node.clock.now, sandbox=True) is None


def test_a_maintenance_window_refuses_business_only_while_in_force(node) -> None:  # type: ignore[no-untyped-def]
    activate(node)
    start = node.procedure.calendar.earliest_after(node.clock.now, 7)
    restore = start + timedelta(hours=4)
    node.do(
        node.procedure.suspend,
        "operator:alice",
        None,
        cause=SuspensionCause.MAINTENANCE,
        reason="upgrade",
        starts_at=start,
        restore_at=restore,
    )
    assert refusal(node) is None  # announced, not yet in force
    during = refusal(node, at=start + timedelta(hours=1))
    assert during is not None and during.http_status == 503 and "upgrade" in during.reason
    assert refusal(node, test=True, at=start + timedelta(hours=1)) is None
    assert refusal(node, at=restore) is None


def test_an_open_incident_holds_outbound_traffic_of_the_affected_partner(node) -> None:  # type: ignore[no-untyped-def]
    assert node.do(outbound_hold, "th") is None
    incident = node.do(node.procedure.open_incident, "operator:alice", title="HSM down", partners=("th",))
    reason = node.do(outbound_hold, "th")
    assert reason is not None and f"#{incident.id}" in reason and "Art. 14" in reason
    assert node.do(outbound_hold, "other") is None
    node.do(node.procedure.close_incident, "operator:alice", incident.id, repair_note="HSM replaced")
    assert node.do(outbound_hold, "th") is None
