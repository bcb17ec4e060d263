"""The legal procedure's operations: each takes (session, actor, ...), checks the law, records and audits.

The CLI calls them inside `db.session()`, the operator API and the console through
`db.run(procedure.<op>, actor, ...)`. Every partner transition goes through the table of
node.lifecycle.states and is stored as a LifecycleEvent with who, when, why and evidence,
and appended to the audit chain in the same transaction. Errors an operator can act on are
`LifecycleError` (one line).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from node.audit import AuditLog
from node.calendar import WorkingCalendar
from node.config import NODE_FILE, ConfigError, NodeConfig, PartnerConfig, load_partners
from node.conntest.minutes import (
    PARTIES,
    CaseResult,
    MinutesInvalid,
    NodeSigner,
    Outcome,
    SignedMinutes,
    draw_up_minutes,
    verify_minutes,
)
from node.conntest.plan import ConnectionTestPlan, Step, TestCase, draw_up_plan
from node.lifecycle import incidents, suspensions
from node.lifecycle.errors import LifecycleError
from node.lifecycle.notices import issue_notice
from node.lifecycle.reasons import SuspensionCause, TerminationReason
from node.lifecycle.states import Environment, Event, IllegalTransition, State, transition
from node.notify.render import NoticeKind
from node.registry import unrecorded_state
from node.store.lifecycle_models import (
    Announcement,
    ConntestCaseResult,
    ConntestConfirmation,
    ConntestMinutes,
    ConntestPlan,
    ConntestRun,
    Incident,
    LifecycleEvent,
    Suspension,
)
from node.store.models import Partner
from node.store.types import utcnow

__all__ = [
    "MAINTENANCE_NOTICE_WORKING_DAYS",
    "LifecycleError",
    "Procedure",
    "SuspensionCause",
    "TerminationReason",
    "carried_results",
    "lifecycle_event_to_dict",
]

MAINTENANCE_NOTICE_WORKING_DAYS = suspensions.MAINTENANCE_NOTICE_WORKING_DAYS
RECONCILE_WORKING_DAYS = incidents.RECONCILE_WORKING_DAYS

_PartnerRow = TypeVar("_PartnerRow", ConntestPlan, ConntestMinutes)

# A plan drawn up puts the partner in `testing`: the first one starts the test, a later one restarts it.
_PLAN_TRANSITIONS = {
    State.REGISTERED: (Event.START_TEST, "test plan drawn up"),
    State.TESTING: (Event.RETEST, "new test plan drawn up"),
    State.TESTED: (Event.RETEST, "new test plan drawn up"),
}


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _newest(session: Session, model: type[_PartnerRow], partner_id: str, missing: str) -> _PartnerRow:
    """The partner's latest row of `model` (plans and minutes are versioned by insertion)."""
    query = select(model).where(model.partner_id == partner_id).order_by(model.id.desc()).limit(1)
    row = session.scalars(query).first()
    if row is None:
        raise LifecycleError(f"partner {partner_id}: {missing}")
    return row


def _test_run(session: Session, run_id: int) -> ConntestRun:
    run = session.get(ConntestRun, run_id)
    if run is None:
        raise LifecycleError(f"no test run {run_id}")
    return run


def carried_results(
    previous: ConnectionTestPlan, plan: ConnectionTestPlan, recorded: Iterable[CaseResult]
) -> tuple[list[CaseResult], list[str]]:
    """The results of `previous` that still hold for `plan`, and the ids of those that do not.

    A result holds for a case of the new version that is the same case: same id, step, purpose,
    steps, expected result and check. A result of a case that changed or left the plan proves
    nothing about the new version: it is not carried (it stays in the runs of the version it was
    run under, and the case shows `not_run` until it is run again). Each carried result names
    the version it was run under in its evidence (`recorded_under_plan`), kept on later carries.
    """
    still = {case.id: case for case in plan.cases}
    carried: list[CaseResult] = []
    dropped: list[str] = []
    for result in recorded:
        try:
            same = still.get(result.case_id) == previous.case(result.case_id)
        except KeyError:
            same = False
        if not same:
            dropped.append(result.case_id)
            continue
        evidence = {"recorded_under_plan": previous.digest, **result.evidence}
        carried.append(replace(result, evidence=evidence))
    return carried, dropped


def lifecycle_event_to_dict(event: LifecycleEvent) -> dict[str, Any]:
    """One transition of a partner's history as the CLI and the operator API show it."""
    return {
        "at": event.at.isoformat(),
        "from": event.from_state,
        "event": event.event,
        "to": event.to_state,
        "article": event.article,
        "actor": event.actor,
        "reason": event.reason,
        "evidence": event.evidence,
    }


@dataclass
class Procedure:
    """The operations of the legal procedure for one node."""

    config: NodeConfig
    clock: Callable[[], datetime] = utcnow
    audit: AuditLog = field(default_factory=AuditLog)
    form: str = "cli"
    _signer: NodeSigner | None = field(default=None, repr=False)

    @property
    def environment(self) -> Environment:
        return Environment(self.config.environment)

    @property
    def calendar(self) -> WorkingCalendar:
        try:
            return WorkingCalendar.from_config(self.config.section("holidays"))
        except ValueError as exc:
            key, _, message = str(exc).partition(": ")
            raise ConfigError(NODE_FILE, key, message) from None

    @property
    def signer(self) -> NodeSigner:
        if self._signer is None:
            self._signer = NodeSigner.from_files(self.config.keys.signing_key, self.config.keys.signing_cert)
        return self._signer

    # -- partners and transitions ------------------------------------------------------------

    def partner_config(self, partner_id: str) -> PartnerConfig:
        for partner in load_partners(self.config.directory):
            if partner.id == partner_id:
                return partner
        raise LifecycleError(f"partners.yaml: no partner {partner_id!r} (aswnode partners add)")

    def _partner_row(self, session: Session, partner_id: str) -> Partner:
        """The partner's row, locked; a partner with no row (added to partners.yaml by hand) gets one
        in the state node.registry gives a missing row: active in a sandbox node, else registered."""
        row = session.get(Partner, partner_id, with_for_update=True)
        if row is None:
            config = self.partner_config(partner_id)
            state = State(unrecorded_state(self.config.is_sandbox))
            row = Partner(
                id=config.id,
                party_id=config.party_id,
                party_id_type=config.party_id_type,
                state=state.value,
                state_since=self.clock(),
                state_reason=f"no lifecycle row: {state.value} by default in a {self.environment.value} node",
            )
            session.add(row)
            session.flush()
        return row

    def state(self, session: Session, partner_id: str) -> State:
        return State(self._partner_row(session, partner_id).state)

    def _audit(
        self, session: Session, actor: str, action: str, subject: str, detail: Mapping[str, Any]
    ) -> None:
        self.audit.append(session, actor, action, subject, dict(detail), None, "ok", form=self.form)

    def apply(
        self,
        session: Session,
        actor: str,
        partner_id: str,
        event: Event,
        *,
        reason: str,
        evidence: Mapping[str, Any] | None = None,
    ) -> LifecycleEvent:
        """One transition of the table, stored and audited; IllegalTransition names the rule."""
        row = self._partner_row(session, partner_id)
        source = State(row.state)
        rule = transition(source, event, environment=self.environment)
        now = self.clock()
        row.state = rule.target.value
        row.state_since = now
        row.state_reason = reason
        record = LifecycleEvent(
            partner_id=partner_id,
            from_state=source.value,
            event=event.value,
            to_state=rule.target.value,
            article=rule.article,
            actor=actor,
            reason=reason,
            evidence=dict(evidence or {}),
            at=now,
        )
        session.add(record)
        self._audit(
            session,
            actor,
            f"partner.{event.value}",
            f"partner:{partner_id}",
            {
                "from": source.value,
                "to": rule.target.value,
                "article": rule.article,
                "reason": reason,
                "evidence": dict(evidence or {}),
            },
        )
        session.flush()
        return record

    def history(self, session: Session, partner_id: str) -> list[LifecycleEvent]:
        query = select(LifecycleEvent).where(LifecycleEvent.partner_id == partner_id)
        return list(session.scalars(query.order_by(LifecycleEvent.id)))

    # -- Art. 10.3 step 1: the plan ------------------------------------------------------------

    def draw_up_plan(
        self,
        session: Session,
        actor: str,
        partner_id: str,
        extra_cases: Iterable[TestCase] = (),
        *,
        foreign: bool = True,
        max_message_bytes: int | None = None,
    ) -> ConnectionTestPlan:
        """A new plan from the partner's agreement and P-Mode; the partner enters `testing`."""
        config = self.partner_config(partner_id)
        plan = draw_up_plan(
            partner_id=config.id,
            party_id=config.party_id,
            endpoint=config.endpoint,
            agreement=config.agreement,
            treaty=config.treaty,
            pmode=config.pmode,
            now=self.clock(),
            foreign=foreign,
            extra_cases=extra_cases,
            max_message_bytes=max_message_bytes,
        )
        self._store_plan(session, actor, plan)
        self._register_partner_certificates(session, actor, config)
        transition_for_plan = _PLAN_TRANSITIONS.get(self.state(session, partner_id))
        if transition_for_plan is not None:
            event, reason = transition_for_plan
            evidence = {"plan_digest": plan.digest}
            self.apply(session, actor, partner_id, event, reason=reason, evidence=evidence)
        return plan

    def _register_partner_certificates(self, session: Session, actor: str, config: PartnerConfig) -> None:
        """seed 001 Art. 12: the partner's signing certificate(s) registered, if not yet (initial)."""
        from node.lifecycle.certificates import RegistrationReason, fingerprint, register_certificate
        from node.partners import load_certificates
        from node.store.lifecycle_models import CertificateRegistration

        known = set(
            session.scalars(
                select(CertificateRegistration.fingerprint).where(
                    CertificateRegistration.owner_kind == "partner",
                    CertificateRegistration.owner_id == config.id,
                )
            )
        )
        for certificate in load_certificates(config.signing_cert):
            if fingerprint(certificate) not in known:
                reason = RegistrationReason.RENEWAL if known else RegistrationReason.INITIAL
                register_certificate(
                    session,
                    self,
                    actor,
                    owner_kind="partner",
                    owner_id=config.id,
                    certificate=certificate,
                    reason=reason,
                )
                known.add(fingerprint(certificate))

    def _store_plan(self, session: Session, actor: str, plan: ConnectionTestPlan) -> ConntestPlan:
        row = ConntestPlan(
            partner_id=plan.partner_id,
            digest=plan.digest,
            document=plan.to_dict(),
            created_by=actor,
            created_at=self.clock(),
        )
        session.add(row)
        self._audit(
            session,
            actor,
            "conntest.plan",
            f"partner:{plan.partner_id}",
            {"plan_digest": plan.digest, "cases": [c.id for c in plan.cases]},
        )
        session.flush()
        return row

    def current_plan(self, session: Session, partner_id: str) -> tuple[ConntestPlan, ConnectionTestPlan]:
        row = _newest(session, ConntestPlan, partner_id, "no test plan yet (aswnode conntest plan)")
        return row, ConnectionTestPlan.from_dict(row.document)

    def add_case(self, session: Session, actor: str, partner_id: str, case: TestCase) -> ConnectionTestPlan:
        """The operator adds a case: a new version of the current plan (plans are documents).

        The results already recorded carry over to the new version (see `carried_results`),
        so the test goes on; only drawing up a new plan starts it again.
        """
        _, previous = self.current_plan(session, partner_id)
        try:
            plan = previous.with_case(case)
        except ValueError as exc:
            raise LifecycleError(f"partner {partner_id}: {exc}") from None
        recorded = self.results(session, partner_id)
        row = self._store_plan(session, actor, plan)
        self._carry_results(session, actor, row, previous, plan, recorded)
        return plan

    def _carry_results(
        self,
        session: Session,
        actor: str,
        row: ConntestPlan,
        previous: ConnectionTestPlan,
        plan: ConnectionTestPlan,
        recorded: Iterable[CaseResult],
    ) -> None:
        """Copy the carried results into one finished run per step of the new version, audited."""
        carried, dropped = carried_results(previous, plan, recorded)
        now = self.clock()
        for step in Step:
            of_step = [r for r in carried if plan.case(r.case_id).step is step]
            if not of_step:
                continue
            run = ConntestRun(
                plan_id=row.id,
                step=step.value,
                status="finished",
                started_by=actor,
                started_at=now,
                finished_at=now,
            )
            session.add(run)
            session.flush()
            for result in of_step:
                self.record_result(session, run.id, result)
        self._audit(
            session,
            actor,
            "conntest.results.carry",
            f"partner:{plan.partner_id}",
            {
                "from_plan_digest": previous.digest,
                "plan_digest": plan.digest,
                "cases": [r.case_id for r in carried],
                "not_carried": dropped,
            },
        )
        session.flush()

    # -- Art. 10.3 steps 2 and 4: runs ------------------------------------------------------

    def start_run(self, session: Session, actor: str, partner_id: str, step: Step) -> int:
        state = self.state(session, partner_id)
        if step is Step.FOREIGN and state in (State.REGISTERED, State.TERMINATED, State.SUSPENDED):
            raise LifecycleError(
                f"partner {partner_id} is {state.value}: the foreign run needs the test service, "
                "open from testing on (draw up a plan first)"
            )
        plan_row, _ = self.current_plan(session, partner_id)
        run = ConntestRun(plan_id=plan_row.id, step=step.value, started_by=actor, started_at=self.clock())
        session.add(run)
        session.flush()
        self._audit(
            session,
            actor,
            "conntest.run.start",
            f"partner:{partner_id}",
            {"run_id": run.id, "step": step.value, "plan_digest": plan_row.digest},
        )
        return run.id

    def record_result(self, session: Session, run_id: int, result: CaseResult) -> None:
        """A case's result, stored as soon as the case ends (what the operator sees as progress)."""
        session.add(
            ConntestCaseResult(
                run_id=run_id,
                case_id=result.case_id,
                outcome=result.outcome.value,
                started_at=datetime.fromisoformat(result.started_at),
                finished_at=datetime.fromisoformat(result.finished_at),
                detail=result.detail,
                evidence=dict(result.evidence),
            )
        )

    def finish_run(self, session: Session, actor: str, run_id: int) -> dict[str, int]:
        run = _test_run(session, run_id)
        run.status = "finished"
        run.finished_at = self.clock()
        counts: dict[str, int] = {}
        for result in session.scalars(select(ConntestCaseResult).where(ConntestCaseResult.run_id == run_id)):
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
        plan = session.get(ConntestPlan, run.plan_id)
        subject = f"partner:{plan.partner_id}" if plan else f"run:{run_id}"
        self._audit(session, actor, "conntest.run.finish", subject, {"run_id": run_id, "results": counts})
        return counts

    def record_manual(
        self,
        session: Session,
        actor: str,
        partner_id: str,
        case_id: str,
        outcome: Outcome,
        detail: str,
        evidence: Mapping[str, str] | None = None,
    ) -> None:
        """The operator records the result of a case run by hand (an added or an observed case)."""
        _, plan = self.current_plan(session, partner_id)
        try:
            case = plan.case(case_id)
        except KeyError:
            raise LifecycleError(f"partner {partner_id}: the current plan has no case {case_id}") from None
        run_id = self.start_run(session, actor, partner_id, case.step)
        now = self.clock().isoformat()
        try:
            result = CaseResult(case_id, outcome, now, now, detail, dict(evidence or {}))
        except ValueError as exc:
            raise LifecycleError(str(exc)) from None
        self.record_result(session, run_id, result)
        self.finish_run(session, actor, run_id)

    def results(self, session: Session, partner_id: str) -> list[CaseResult]:
        """The latest result of each case of the current plan, over its runs."""
        plan_row, _ = self.current_plan(session, partner_id)
        query = (
            select(ConntestCaseResult)
            .join(ConntestRun, ConntestRun.id == ConntestCaseResult.run_id)
            .where(ConntestRun.plan_id == plan_row.id)
            .order_by(ConntestCaseResult.id)
        )
        latest: dict[str, ConntestCaseResult] = {}
        for row in session.scalars(query):
            latest[row.case_id] = row
        return [
            CaseResult(
                row.case_id,
                Outcome(row.outcome),
                row.started_at.isoformat(),
                row.finished_at.isoformat(),
                row.detail,
                dict(row.evidence),
            )
            for row in latest.values()
        ]

    def progress(self, session: Session, run_id: int) -> dict[str, Any]:
        run = _test_run(session, run_id)
        rows = session.scalars(
            select(ConntestCaseResult)
            .where(ConntestCaseResult.run_id == run_id)
            .order_by(ConntestCaseResult.id)
        )
        return {
            "run_id": run.id,
            "step": run.step,
            "status": run.status,
            "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "cases": [
                {"case_id": r.case_id, "outcome": r.outcome, "detail": r.detail, "evidence": r.evidence}
                for r in rows
            ],
        }

    # -- Art. 10.3 step 3: minutes and confirmations ------------------------------------------

    def draw_up_minutes(self, session: Session, actor: str, partner_id: str) -> ConntestMinutes:
        plan_row, plan = self.current_plan(session, partner_id)
        signed = draw_up_minutes(
            plan,
            self.results(session, partner_id),
            node_party_id=self.config.party_id,
            environment=self.config.environment,
            now=self.clock(),
            signer=self.signer,
        )
        row = ConntestMinutes(
            plan_id=plan_row.id,
            partner_id=partner_id,
            digest=signed.digest,
            body=signed.body.decode("utf-8"),
            signature=dict(signed.signature),
            outcome=signed.document["outcome"],
            drawn_up_by=actor,
            drawn_up_at=self.clock(),
        )
        session.add(row)
        session.flush()
        self._audit(
            session,
            actor,
            "conntest.minutes",
            f"partner:{partner_id}",
            {"minutes_digest": signed.digest, "outcome": row.outcome, "plan_digest": plan.digest},
        )
        return row

    def latest_minutes(self, session: Session, partner_id: str) -> ConntestMinutes:
        return _newest(session, ConntestMinutes, partner_id, "no minutes yet (aswnode conntest minutes)")

    def verified(self, row: ConntestMinutes) -> SignedMinutes:
        """The stored minutes, their signature verified against the node's certificate."""
        signed = SignedMinutes(row.body.encode("utf-8"), row.signature)
        try:
            verify_minutes(signed, trusted=self.signer.certificate)
        except MinutesInvalid as exc:
            raise LifecycleError(f"minutes {row.digest}: {exc}") from None
        return signed

    def confirmations(self, session: Session, minutes_id: int) -> list[ConntestConfirmation]:
        query = select(ConntestConfirmation).where(ConntestConfirmation.minutes_id == minutes_id)
        return list(session.scalars(query.order_by(ConntestConfirmation.id)))

    def confirm(
        self,
        session: Session,
        actor: str,
        partner_id: str,
        *,
        role: str,
        name: str,
        organisation: str = "",
        position: str = "",
        email: str = "",
        digest: str | None = None,
    ) -> ConntestConfirmation:
        """A party confirms the minutes (Art. 10.3 step 3). All parties confirmed + passed → `tested`."""
        if role not in PARTIES:
            raise LifecycleError(f"--role must be one of {', '.join(PARTIES)}")
        if not name.strip():
            raise LifecycleError("a confirmation names the person who confirms (--name)")
        row = self.latest_minutes(session, partner_id)
        if digest is not None and digest != row.digest:
            raise LifecycleError(f"partner {partner_id}: the latest minutes are {row.digest}, not {digest}")
        self.verified(row)
        done = {c.role for c in self.confirmations(session, row.id)}
        if role in done:
            raise LifecycleError(f"minutes {row.digest}: already confirmed by the {role}")
        now = self.clock()
        confirmation = ConntestConfirmation(
            minutes_id=row.id,
            minutes_digest=row.digest,
            role=role,
            name=name.strip(),
            organisation=organisation,
            position=position,
            email=email,
            actor=actor,
            at=now,
        )
        session.add(confirmation)
        self._audit(
            session,
            actor,
            "conntest.confirm",
            f"partner:{partner_id}",
            {
                "minutes_digest": row.digest,
                "role": role,
                "name": name,
                "organisation": organisation,
                "email": email,
            },
        )
        if done | {role} == set(PARTIES):
            row.confirmed_at = now
            if row.outcome == Outcome.PASSED.value and self.state(session, partner_id) is State.TESTING:
                self.apply(
                    session,
                    actor,
                    partner_id,
                    Event.PASS_TEST,
                    reason="minutes of a passed test confirmed by all parties",
                    evidence={"minutes_digest": row.digest},
                )
        session.flush()
        return confirmation

    def passed_minutes(self, session: Session, partner_id: str) -> ConntestMinutes:
        """The confirmed minutes of a passed test of the current plan, verified; else LifecycleError."""
        try:
            plan_row, plan = self.current_plan(session, partner_id)
        except LifecycleError:
            raise LifecycleError(
                f"partner {partner_id}: no go-live without minutes of a passed connection test "
                "(seed 000 Art. 10.3-10.4): no test plan yet (aswnode conntest plan)"
            ) from None
        query = select(ConntestMinutes).where(
            ConntestMinutes.partner_id == partner_id,
            ConntestMinutes.plan_id == plan_row.id,
            ConntestMinutes.confirmed_at.is_not(None),
            ConntestMinutes.outcome == Outcome.PASSED.value,
        )
        row = session.scalars(query.order_by(ConntestMinutes.id.desc()).limit(1)).first()
        if row is None:
            raise LifecycleError(
                f"partner {partner_id}: no go-live without minutes of a passed connection test confirmed "
                f"by {', '.join(PARTIES)} (seed 000 Art. 10.3-10.4)"
            )
        signed = self.verified(row)
        if plan.foreign and "foreign" not in signed.document.get("steps", ()):
            raise LifecycleError(f"partner {partner_id}: the minutes do not cover the foreign run (step 4)")
        return row

    # -- Art. 10.4: go-live ------------------------------------------------------------------

    def golive(self, session: Session, actor: str, partner_id: str, at: datetime) -> Announcement:
        """Announce the official connection time; the scheduler activates the partner then."""
        self.partner_config(partner_id)
        if at.tzinfo is None:
            raise LifecycleError("--at must carry a time zone (e.g. 2026-12-01T09:00:00+07:00 or ...Z)")
        minutes = self.passed_minutes(session, partner_id)
        now = self.clock()
        if at <= now:
            raise LifecycleError(f"--at {at.isoformat()} is not in the future (now {now.isoformat()})")
        try:
            self.apply(
                session,
                actor,
                partner_id,
                Event.ANNOUNCE,
                reason=f"go-live announced for {at.isoformat()}",
                evidence={"minutes_digest": minutes.digest, "go_live_at": at.isoformat()},
            )
        except IllegalTransition as exc:
            raise LifecycleError(str(exc)) from None
        announcement = Announcement(
            partner_id=partner_id, minutes_id=minutes.id, go_live_at=at, announced_by=actor, announced_at=now
        )
        session.add(announcement)
        issue_notice(
            session,
            self.config,
            NoticeKind.GOLIVE,
            now=now,
            partner_id=partner_id,
            facts={"Official connection time": at, "Test minutes": minutes.digest},
            effective_at=at,
        )
        session.flush()
        return announcement

    def activate_due(self, session: Session, actor: str = "system:scheduler") -> list[str]:
        """Activate every partner whose announced time has come (the scheduler job)."""
        now = self.clock()
        query = select(Announcement).where(Announcement.status == "scheduled", Announcement.go_live_at <= now)
        activated = []
        for announcement in session.scalars(query.order_by(Announcement.go_live_at)).all():
            if self.state(session, announcement.partner_id) is not State.SCHEDULED:
                announcement.status = "withdrawn"
                continue
            self.apply(
                session,
                actor,
                announcement.partner_id,
                Event.ACTIVATE,
                reason="official exchange starts at the announced time",
                evidence={
                    "announcement_id": announcement.id,
                    "go_live_at": announcement.go_live_at.isoformat(),
                },
            )
            announcement.status = "activated"
            announcement.activated_at = now
            activated.append(announcement.partner_id)
        return activated

    def next_go_live(self, session: Session) -> datetime | None:
        query = select(Announcement.go_live_at).where(Announcement.status == "scheduled")
        return session.scalars(query.order_by(Announcement.go_live_at).limit(1)).first()

    def withdraw(self, session: Session, actor: str, partner_id: str, reason: str) -> None:
        """Withdraw the announced go-live before its time (back to `tested`); notified like the
        announcement, to the same focal points, so nobody expects the exchange at that time."""
        self.apply(session, actor, partner_id, Event.WITHDRAW, reason=reason)
        announcements = session.scalars(
            select(Announcement)
            .where(Announcement.partner_id == partner_id, Announcement.status == "scheduled")
            .order_by(Announcement.go_live_at)
        ).all()
        for announcement in announcements:
            announcement.status = "withdrawn"
        now = self.clock()
        times = [announcement.go_live_at for announcement in announcements]
        issue_notice(
            session,
            self.config,
            NoticeKind.GOLIVE_WITHDRAWN,
            now=now,
            partner_id=partner_id,
            facts={
                "Withdrawn official connection time": times[0] if len(times) == 1 else times,
                "Reason": reason,
                "Withdrawn at": now,
                "Official exchange": "does not start; a new time will be announced (Art. 10.4 step 1)",
            },
            effective_at=now,
        )
        session.flush()

    def activate_sandbox(self, session: Session, actor: str, partner_id: str, reason: str) -> None:
        """Sandbox only: make a partner active without the procedure (refused in production)."""
        try:
            self.apply(session, actor, partner_id, Event.ACTIVATE_SANDBOX, reason=reason)
        except IllegalTransition as exc:
            raise LifecycleError(str(exc)) from None

    # -- Art. 12-13: suspension, restoration, termination (node.lifecycle.suspensions) ----------

    def suspend(self, session: Session, actor: str, partner_id: str | None, **kwargs: Any) -> Suspension:
        return suspensions.suspend(self, session, actor, partner_id, **kwargs)

    def resume(self, session: Session, actor: str, partner_id: str | None, *, evidence: str) -> None:
        suspensions.resume(self, session, actor, partner_id, evidence=evidence)

    def terminate(self, session: Session, actor: str, partner_id: str, **kwargs: Any) -> None:
        suspensions.terminate(self, session, actor, partner_id, **kwargs)

    # -- Art. 14: incidents (node.lifecycle.incidents) -------------------------------------------

    def open_incidents(self, session: Session) -> list[Incident]:
        return incidents.open_incidents(session)

    def open_incident(self, session: Session, actor: str, **kwargs: Any) -> Incident:
        return incidents.open_incident(self, session, actor, **kwargs)

    def close_incident(
        self, session: Session, actor: str, incident_id: int, *, repair_note: str
    ) -> dict[str, Any]:
        return incidents.close_incident(self, session, actor, incident_id, repair_note=repair_note)

    def incident_report(self, session: Session, incident_id: int) -> dict[str, Any]:
        return incidents.incident_report(self, session, incident_id)

    # -- reading ---------------------------------------------------------------------------

    def minutes_document(self, session: Session, partner_id: str) -> dict[str, Any]:
        row = self.latest_minutes(session, partner_id)
        signed = self.verified(row)
        out = signed.to_json()
        out["confirmations"] = [
            {
                "role": c.role,
                "name": c.name,
                "organisation": c.organisation,
                "position": c.position,
                "email": c.email,
                "at": c.at.isoformat(),
            }
            for c in self.confirmations(session, row.id)
        ]
        out["confirmed_at"] = row.confirmed_at.isoformat() if row.confirmed_at else None
        return out

    def node_certificate(self) -> x509.Certificate:
        return self.signer.certificate
