"""The procedure's operations on a real database: the law decides, every step is recorded and audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from node.audit import AuditLog
from node.conntest.minutes import Outcome
from node.lifecycle.service import LifecycleError, SuspensionCause, TerminationReason
from node.lifecycle.states import IllegalTransition, State
from node.store.lifecycle_models import (
    Announcement,
    ConntestMinutes,
    LifecycleEvent,
    MinutesImmutable,
    Notice,
)
from node.store.models import AuditRecord


def state(node) -> State:  # type: ignore[no-untyped-def]
    return node.do(node.procedure.state, "th")


def tested(node) -> None:  # type: ignore[no-untyped-def]
    node.do(node.procedure.draw_up_plan, "operator:alice", "th")
    node.pass_every_case()
    node.do(node.procedure.draw_up_minutes, "operator:alice", "th")
    node.confirm_all()


def test_drawing_up_the_plan_starts_the_test(node) -> None:  # type: ignore[no-untyped-def]
    plan = node.do(node.procedure.draw_up_plan, "operator:alice", "th")
    assert state(node) is State.TESTING
    [event] = node.do(node.procedure.history, "th")
    assert (event.from_state, event.event, event.to_state) == ("registered", "start_test", "testing")
    assert event.actor == "operator:alice" and event.evidence["plan_digest"] == plan.digest
    assert "Art. 10.3" in event.article


def test_golive_without_minutes_is_refused_naming_art_10(node) -> None:  # type: ignore[no-untyped-def]
    node.do(node.procedure.draw_up_plan, "operator:alice", "th")
    with pytest.raises(LifecycleError, match=r"no go-live without minutes .* Art\. 10"):
        node.do(node.procedure.golive, "operator:alice", "th", node.clock.now + timedelta(days=1))
    assert state(node) is State.TESTING


def test_golive_with_minutes_of_a_failed_test_is_refused(node) -> None:  # type: ignore[no-untyped-def]
    node.do(node.procedure.draw_up_plan, "operator:alice", "th")
    node.pass_every_case()
    node.do(node.procedure.record_manual, "operator:alice", "th", "F-2", Outcome.FAILED, "no receipt")
    minutes = node.do(node.procedure.draw_up_minutes, "operator:alice", "th")
    assert minutes.outcome == "failed"
    node.confirm_all()
    assert state(node) is State.TESTING
    with pytest.raises(LifecycleError, match="no go-live"):
        node.do(node.procedure.golive, "operator:alice", "th", node.clock.now + timedelta(days=1))


def test_minutes_confirmed_by_two_parties_only_are_not_enough(node) -> None:  # type: ignore[no-untyped-def]
    node.do(node.procedure.draw_up_plan, "operator:alice", "th")
    node.pass_every_case()
    node.do(node.procedure.draw_up_minutes, "operator:alice", "th")
    for role in ("operator", "ministry"):
        node.do(node.procedure.confirm, "operator:x", "th", role=role, name="someone")
    with pytest.raises(LifecycleError, match="no go-live"):
        node.do(node.procedure.golive, "operator:alice", "th", node.clock.now + timedelta(days=1))


def test_a_party_confirms_only_once(node) -> None:  # type: ignore[no-untyped-def]
    node.do(node.procedure.draw_up_plan, "operator:alice", "th")
    node.do(node.procedure.draw_up_minutes, "operator:alice", "th")
    node.do(node.procedure.confirm, "operator:a", "th", role="operator", name="A")
    with pytest.raises(LifecycleError, match="already confirmed by the operator"):
        node.do(node.procedure.confirm, "operator:b", "th", role="operator", name="B")


def test_the_whole_procedure_goes_live_at_the_announced_time(node) -> None:  # type: ignore[no-untyped-def]
    tested(node)
    assert state(node) is State.TESTED
    at = node.clock.now + timedelta(days=3)
    node.do(node.procedure.golive, "operator:alice", "th", at)
    assert state(node) is State.SCHEDULED
    assert node.do(node.procedure.activate_due) == []  # not yet
    node.clock.now = at
    assert node.do(node.procedure.activate_due) == ["th"]
    assert state(node) is State.ACTIVE
    [announcement] = node.do(lambda s: list(s.scalars(select(Announcement))))
    assert announcement.status == "activated" and announcement.activated_at == at
    events = [e.event for e in node.do(node.procedure.history, "th")]
    assert events == ["start_test", "pass_test", "announce", "activate"]
    actions = node.do(lambda s: [r.action for r in s.scalars(select(AuditRecord).order_by(AuditRecord.seq))])
    assert "partner.announce" in actions and "partner.activate" in actions and "conntest.confirm" in actions
    assert node.do(AuditLog().verify) is None


def test_go_live_in_the_past_is_refused(node) -> None:  # type: ignore[no-untyped-def]
    tested(node)
    with pytest.raises(LifecycleError, match="not in the future"):
        node.do(node.procedure.golive, "operator:alice", "th", node.clock.now - timedelta(minutes=1))


def test_tampered_minutes_in_the_database_block_the_go_live(node) -> None:  # type: ignore[no-untyped-def]
    tested(node)
    # Someone edits the stored body behind the ORM's back (the ORM itself refuses, see below).
    node.do(lambda s: s.execute(update(ConntestMinutes).values(body=ConntestMinutes.body + " ")))
    with pytest.raises(LifecycleError, match=r"canonical|changed after signing"):
        node.do(node.procedure.golive, "operator:alice", "th", node.clock.now + timedelta(days=1))


def test_signed_minutes_cannot_be_changed_or_deleted(node) -> None:  # type: ignore[no-untyped-def]
    tested(node)

    def edit(session):  # type: ignore[no-untyped-def]
        minutes = session.scalars(select(ConntestMinutes)).one()
        minutes.outcome = "passed" if minutes.outcome == "failed" else "failed"

    with pytest.raises(MinutesImmutable):
        node.do(edit)
    with pytest.raises(MinutesImmutable):
        node.do(lambda s: s.delete(s.scalars(select(ConntestMinutes)).one()))


def test_production_refuses_the_sandbox_shortcut(node) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LifecycleError, match="production"):
        node.do(node.procedure.activate_sandbox, "operator:alice", "th", "hurry")


def test_a_maintenance_notice_shorter_than_7_working_days_is_refused(node) -> None:  # type: ignore[no-untyped-def]
    start = node.clock.now + timedelta(days=7)  # a calendar week: only 5 working days
    with pytest.raises(LifecycleError, match=r"5 working day\(s\) .* 7 working days .* Art\. 12"):
        node.do(
            node.procedure.suspend,
            "operator:alice",
            None,
            cause=SuspensionCause.MAINTENANCE,
            reason="database upgrade",
            starts_at=start,
            restore_at=start + timedelta(hours=4),
        )


def test_a_maintenance_notice_of_7_working_days_is_stored_and_noticed(node) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # 2 Dec 00:00 Hanoi: 7 working days after Mon 23 Nov
    suspension = node.do(
        node.procedure.suspend,
        "operator:alice",
        None,
        cause=SuspensionCause.MAINTENANCE,
        reason="database upgrade",
        starts_at=start,
        restore_at=start + timedelta(hours=4),
    )
    assert suspension.partner_id is None and suspension.starts_at == start
    notice = node.do(lambda s: s.get(Notice, suspension.notice_id))
    assert notice.kind == "maintenance" and "database upgrade" in notice.body_text
    assert "focal@th.example" in notice.recipients


def test_suspending_one_partner_needs_the_restore_steps(node) -> None:  # type: ignore[no-untyped-def]
    tested(node)
    node.do(node.procedure.golive, "operator:alice", "th", node.clock.now + timedelta(hours=1))
    node.clock.advance(hours=1)
    node.do(node.procedure.activate_due)
    with pytest.raises(LifecycleError, match="steps to restore"):
        node.do(
            node.procedure.suspend,
            "operator:alice",
            "th",
            cause=SuspensionCause.VIOLATION,
            reason="unsigned documents",
        )
    node.do(
        node.procedure.suspend,
        "operator:alice",
        "th",
        cause=SuspensionCause.VIOLATION,
        reason="unsigned documents",
        restore_steps=("sign every message",),
    )
    assert state(node) is State.SUSPENDED
    notice = node.do(lambda s: s.scalars(select(Notice).where(Notice.kind == "violation")).one())
    assert "unsigned documents" in notice.body_text and "sign every message" in notice.body_text
    assert notice.created_at == node.clock.now  # at once: well within the 1 day of Art. 12
    with pytest.raises(LifecycleError, match="evidence"):
        node.do(node.procedure.resume, "operator:alice", "th", evidence=" ")
    node.do(node.procedure.resume, "operator:alice", "th", evidence="audit of 20 messages: all signed")
    assert state(node) is State.ACTIVE
    last = node.do(node.procedure.history, "th")[-1]
    assert last.event == "resume" and last.evidence == {"evidence": "audit of 20 messages: all signed"}


def test_termination_names_an_art_13_reason_and_keeps_the_history(node) -> None:  # type: ignore[no-untyped-def]
    node.do(node.procedure.draw_up_plan, "operator:alice", "th")
    node.do(
        node.procedure.terminate,
        "operator:alice",
        "th",
        reason=TerminationReason.NO_LONGER_NEEDED,
        note="agreement expired 2026-12-31",
    )
    assert state(node) is State.TERMINATED
    last = node.do(node.procedure.history, "th")[-1]
    assert "Art. 13" in last.article and last.evidence["art13_reason"] == "no_longer_needed"
    notice = node.do(lambda s: s.scalars(select(Notice).where(Notice.kind == "termination")).one())
    assert "kept" in notice.body_text
    with pytest.raises(IllegalTransition):
        node.do(node.procedure.apply, "operator:alice", "th", "resume", reason="x")
    assert node.do(lambda s: s.scalar(select(LifecycleEvent.id).limit(1))) is not None


def test_a_force_majeure_suspension_of_all_is_immediate(node) -> None:  # type: ignore[no-untyped-def]
    suspension = node.do(
        node.procedure.suspend,
        "operator:alice",
        None,
        cause=SuspensionCause.FORCE_MAJEURE,
        reason="data centre flood",
    )
    assert suspension.starts_at == node.clock.now
    node.do(node.procedure.resume, "operator:alice", None, evidence="power restored, checks green")
    with pytest.raises(LifecycleError, match="no suspension of all"):
        node.do(node.procedure.resume, "operator:alice", None, evidence="again")


def test_drawing_up_the_plan_registers_the_partners_signing_certificate(node) -> None:  # type: ignore[no-untyped-def]
    from node.store.lifecycle_models import CertificateRegistration

    node.do(node.procedure.draw_up_plan, "operator:alice", "th")
    node.do(node.procedure.draw_up_plan, "operator:alice", "th")
    [row] = node.do(lambda s: list(s.scalars(select(CertificateRegistration))))
    assert row.owner_id == "th" and row.reason == "initial" and row.status == "active" and row.serial
