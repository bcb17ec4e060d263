"""The lifecycle table held against seed 000 Art. 10, 12 and 13."""

from __future__ import annotations

import pytest

from node.lifecycle.states import (
    TRANSITIONS,
    Environment,
    Event,
    IllegalTransition,
    State,
    may_exchange,
    transition,
)

PRODUCTION = Environment.PRODUCTION


def walk(*events: Event, environment: Environment = PRODUCTION) -> State:
    state = State.REGISTERED
    for event in events:
        state = transition(state, event, environment=environment).target
    return state


def test_the_art_10_procedure_leads_from_registered_to_active_in_production() -> None:
    assert walk(Event.START_TEST, Event.PASS_TEST, Event.ANNOUNCE, Event.ACTIVATE) is State.ACTIVE


def test_each_step_of_the_procedure_names_its_article() -> None:
    assert "Art. 10.3" in TRANSITIONS[(State.REGISTERED, Event.START_TEST)].article
    assert "Art. 10.3" in TRANSITIONS[(State.TESTING, Event.PASS_TEST)].article
    assert "Art. 10.4" in TRANSITIONS[(State.TESTED, Event.ANNOUNCE)].article
    assert "Art. 10.4" in TRANSITIONS[(State.SCHEDULED, Event.ACTIVATE)].article
    assert "Art. 12" in TRANSITIONS[(State.ACTIVE, Event.SUSPEND)].article
    assert "Art. 12" in TRANSITIONS[(State.SUSPENDED, Event.RESUME)].article
    assert "Art. 13" in TRANSITIONS[(State.ACTIVE, Event.TERMINATE)].article


def test_a_partner_cannot_be_announced_before_it_passed_the_test() -> None:
    with pytest.raises(IllegalTransition) as caught:
        transition(State.TESTING, Event.ANNOUNCE, environment=PRODUCTION)
    message = str(caught.value)
    assert "announce" in message and "testing" in message and "pass_test" in message


def test_a_registered_partner_cannot_be_activated_by_the_scheduler() -> None:
    with pytest.raises(IllegalTransition, match="registered"):
        transition(State.REGISTERED, Event.ACTIVATE, environment=PRODUCTION)


def test_production_refuses_the_sandbox_shortcut_naming_art_10_4() -> None:
    with pytest.raises(IllegalTransition, match=r"Art\. 10\.4"):
        transition(State.REGISTERED, Event.ACTIVATE_SANDBOX, environment=PRODUCTION)


def test_sandbox_may_activate_a_registered_partner_directly() -> None:
    assert walk(Event.ACTIVATE_SANDBOX, environment=Environment.SANDBOX) is State.ACTIVE


def test_suspension_and_resumption_alternate() -> None:
    state = walk(Event.START_TEST, Event.PASS_TEST, Event.ANNOUNCE, Event.ACTIVATE)
    state = transition(state, Event.SUSPEND, environment=PRODUCTION).target
    assert state is State.SUSPENDED
    assert transition(state, Event.RESUME, environment=PRODUCTION).target is State.ACTIVE


def test_only_an_active_partner_can_be_suspended() -> None:
    with pytest.raises(IllegalTransition):
        transition(State.TESTED, Event.SUSPEND, environment=PRODUCTION)


@pytest.mark.parametrize("state", [s for s in State if s is not State.TERMINATED])
def test_every_state_but_terminated_can_be_terminated_under_art_13(state: State) -> None:
    row = transition(state, Event.TERMINATE, environment=PRODUCTION)
    assert row.target is State.TERMINATED and "Art. 13" in row.article


@pytest.mark.parametrize("event", list(Event))
def test_terminated_is_final(event: Event) -> None:
    with pytest.raises(IllegalTransition, match="none \\(final state\\)"):
        transition(State.TERMINATED, event, environment=Environment.SANDBOX)


def test_business_documents_only_with_an_active_partner() -> None:
    assert may_exchange(State.ACTIVE, test_message=False) is None
    for state in State:
        if state is not State.ACTIVE:
            refusal = may_exchange(state, test_message=False, direction="outbound")
            assert refusal is not None
            assert state.value in refusal.reason and refusal.http_status == 409
            assert refusal.ebms_code.startswith("EBMS:")


def test_the_test_service_works_from_testing_on() -> None:
    assert may_exchange(State.REGISTERED, test_message=True) is not None
    for state in (State.TESTING, State.TESTED, State.SCHEDULED, State.ACTIVE):
        assert may_exchange(state, test_message=True) is None
    assert may_exchange(State.SUSPENDED, test_message=True) is not None
    assert may_exchange(State.TERMINATED, test_message=True) is not None


def test_a_suspended_partner_is_refused_under_art_12() -> None:
    refusal = may_exchange("suspended", test_message=False)
    assert refusal is not None and "Art. 12" in refusal.article
