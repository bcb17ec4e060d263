"""The partner lifecycle as one table you can hold against the law (seed 000 Art. 10, 12, 13; Art. 8.1).

    registered → testing → tested → scheduled → active ⇄ suspended → terminated

Each row is (state, event) → new state, with the article it comes from. An event
that the table does not allow raises `IllegalTransition`, naming the state, the
event and the rule. `may_exchange` is the gate the sender and the receiver ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "TRANSITIONS",
    "Environment",
    "Event",
    "IllegalTransition",
    "Refusal",
    "State",
    "Transition",
    "may_exchange",
    "transition",
]


class State(StrEnum):
    REGISTERED = "registered"
    TESTING = "testing"
    TESTED = "tested"
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class Event(StrEnum):
    START_TEST = "start_test"  # Art. 10.3 step 1: the test plan is drawn up
    PASS_TEST = "pass_test"  # Art. 10.3 step 3: minutes of a passed test confirmed by all parties
    RETEST = "retest"  # Art. 10.3: a new test (new plan) after a failed or outdated one
    ANNOUNCE = "announce"  # Art. 10.4 step 1: the official connection time is announced
    WITHDRAW = "withdraw"  # Art. 10.4: the announcement is withdrawn before the time
    ACTIVATE = "activate"  # Art. 10.4 step 2: official exchange starts at the announced time
    ACTIVATE_SANDBOX = "activate_sandbox"  # development only: never in production
    SUSPEND = "suspend"  # Art. 12: maintenance, force majeure, violation, unsafe connection
    RESUME = "resume"  # Art. 12: the connection is restored, with evidence
    TERMINATE = "terminate"  # Art. 13


class Environment(StrEnum):
    SANDBOX = "sandbox"
    PRODUCTION = "production"


@dataclass(frozen=True, slots=True)
class Transition:
    """One row: in `source`, `event` leads to `target`; `article` is where the law says so."""

    source: State
    event: Event
    target: State
    article: str
    rule: str
    sandbox_only: bool = False

    def __post_init__(self) -> None:
        if self.source is State.TERMINATED:
            raise ValueError("terminated is final: no transition leaves it")
        if not self.article or not self.rule:
            raise ValueError("every transition names its article and rule")


_ART_10_3 = "seed 000 Art. 10.3 (Art. 8.1(c) for a domestic connection)"
_ART_10_4 = "seed 000 Art. 10.4 (Art. 8.1(d) for a domestic connection)"
_ART_12 = "seed 000 Art. 12 (Decree 47 Art. 43; Decree 85 Art. 17)"
_ART_13 = "seed 000 Art. 13 (Decree 47 Art. 44)"

_ROWS: tuple[Transition, ...] = (
    Transition(
        State.REGISTERED, Event.START_TEST, State.TESTING, _ART_10_3, "step 1: the test plan is drawn up"
    ),
    Transition(
        State.TESTING,
        Event.PASS_TEST,
        State.TESTED,
        _ART_10_3,
        "step 3: the minutes of a passed test are confirmed by all parties",
    ),
    Transition(State.TESTING, Event.RETEST, State.TESTING, _ART_10_3, "a new plan replaces the old one"),
    Transition(State.TESTED, Event.RETEST, State.TESTING, _ART_10_3, "a new test after a passed one"),
    Transition(
        State.TESTED,
        Event.ANNOUNCE,
        State.SCHEDULED,
        _ART_10_4,
        "step 1: the official connection time is announced, on the basis of the test results",
    ),
    Transition(
        State.SCHEDULED, Event.WITHDRAW, State.TESTED, _ART_10_4, "the announcement is withdrawn in time"
    ),
    Transition(
        State.SCHEDULED,
        Event.ACTIVATE,
        State.ACTIVE,
        _ART_10_4,
        "step 2: official exchange starts at the announced time",
    ),
    *(
        Transition(
            source,
            Event.ACTIVATE_SANDBOX,
            State.ACTIVE,
            "none: a development shortcut",
            "a sandbox node may activate a partner directly; production only through Art. 10",
            sandbox_only=True,
        )
        for source in (State.REGISTERED, State.TESTING, State.TESTED, State.SCHEDULED)
    ),
    Transition(
        State.ACTIVE,
        Event.SUSPEND,
        State.SUSPENDED,
        _ART_12,
        "suspension for maintenance (notice ≥ 7 working days), force majeure, "
        "a violation or an unsafe connection (notice within 1 day)",
    ),
    Transition(
        State.SUSPENDED,
        Event.RESUME,
        State.ACTIVE,
        _ART_12,
        "the connection is restored once the cause is removed, with evidence",
    ),
    *(
        Transition(
            source,
            Event.TERMINATE,
            State.TERMINATED,
            _ART_13,
            "purpose no longer valid, connection cannot be restored, order of a competent "
            "authority, or no longer needed / agreement expired; the result is notified",
        )
        for source in State
        if source is not State.TERMINATED
    ),
)

TRANSITIONS: MappingProxyType[tuple[State, Event], Transition] = MappingProxyType(
    {(row.source, row.event): row for row in _ROWS}
)


class IllegalTransition(Exception):
    """The table has no row for (state, event), or the row does not apply in this environment."""

    def __init__(self, state: State, event: Event, rule: str) -> None:
        self.state = state
        self.event = event
        self.rule = rule
        super().__init__(f"cannot {event.value} a partner in state {state.value}: {rule}")


def _allowed_events(state: State) -> str:
    events = sorted(event.value for (source, event) in TRANSITIONS if source is state)
    return ", ".join(events) if events else "none (final state)"


def transition(state: State | str, event: Event | str, *, environment: Environment | str) -> Transition:
    """The row for (state, event) in this environment, or `IllegalTransition` naming the rule."""
    state, event, environment = State(state), Event(event), Environment(environment)
    row = TRANSITIONS.get((state, event))
    if row is None:
        raise IllegalTransition(
            state, event, f"the lifecycle table allows from {state.value} only: {_allowed_events(state)}"
        )
    if row.sandbox_only and environment is not Environment.SANDBOX:
        raise IllegalTransition(
            state,
            event,
            f"in {environment.value} a partner becomes active only through the connection test "
            f"and the announced go-live ({_ART_10_4})",
        )
    return row


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an exchange is refused: a line for the ministry (HTTP 409) and the ebMS error code inbound."""

    state: State
    reason: str
    article: str
    ebms_code: str = "EBMS:0010"  # ProcessingModeMismatch: no agreement in force for this exchange
    http_status: int = 409

    def __post_init__(self) -> None:
        if not self.reason:
            raise ValueError("a refusal names its reason")

    def __str__(self) -> str:
        return f"{self.reason} ({self.article})"


_TEST_SERVICE_FROM = frozenset({State.TESTING, State.TESTED, State.SCHEDULED, State.ACTIVE})


def may_exchange(state: State | str, *, test_message: bool, direction: str | None = None) -> Refusal | None:
    """None if a message may go to or come from a partner in `state`, else the refusal.

    Business documents only while `active` (Art. 10.4); the ebMS3 test service from
    `testing` on (Art. 10.3 step 4). `direction` ("inbound"/"outbound") only words the reason.
    """
    state = State(state)
    way = f" {direction}" if direction else ""
    if test_message:
        if state in _TEST_SERVICE_FROM:
            return None
        return Refusal(
            state,
            f"partner is {state.value}: the ebMS3 test service{way} works only from testing on",
            _ART_10_3,
        )
    if state is State.ACTIVE:
        return None
    article = {
        State.SUSPENDED: _ART_12,
        State.TERMINATED: _ART_13,
    }.get(state, _ART_10_4)
    return Refusal(
        state,
        f"partner is {state.value}: business documents{way} are exchanged only with an active partner",
        article,
    )
