"""node.console.ratelimit: a growing delay per operator account, a high bound per address."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from node.console.ratelimit import LoginThrottle


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_an_account_waits_longer_after_each_failure_up_to_the_cap() -> None:
    clock = _Clock()
    throttle = LoginThrottle(clock)
    waits = []
    for _ in range(12):
        wait = throttle.retry_after("alice", "10.0.0.1")
        clock.now += wait or timedelta(0)
        waits.append(wait)
        throttle.failed("alice", "10.0.0.1")
    assert waits[:5] == [None] * 5
    assert waits[5:] == [timedelta(minutes=m) for m in (1, 2, 4, 8, 15, 15, 15)]
    throttle.succeeded("alice")
    assert throttle.retry_after("alice", "10.0.0.1") is None


def test_other_accounts_from_the_same_address_are_not_held_until_the_address_bound() -> None:
    clock = _Clock()
    throttle = LoginThrottle(clock, address_failures=20)
    for i in range(19):
        throttle.failed(f"made-up-{i}", "10.0.0.1")
    assert throttle.retry_after("bob", "10.0.0.1") is None
    throttle.failed("made-up-19", "10.0.0.1")
    assert throttle.retry_after("bob", "10.0.0.1") == timedelta(minutes=10)
    assert throttle.retry_after("bob", "10.0.0.2") is None
    clock.now += timedelta(minutes=10)
    assert throttle.retry_after("bob", "10.0.0.1") is None


def test_an_account_is_forgotten_a_day_after_its_last_failure() -> None:
    clock = _Clock()
    throttle = LoginThrottle(clock)
    for _ in range(5):
        throttle.failed("alice", "10.0.0.1")
    assert throttle.retry_after("alice", "10.0.0.1") == timedelta(minutes=1)
    clock.now += timedelta(hours=24, seconds=1)
    throttle.failed("alice", "10.0.0.1")
    assert throttle.retry_after("alice", "10.0.0.1") is None


def test_a_spray_over_made_up_ids_keeps_the_table_bounded() -> None:
    clock = _Clock()
    throttle = LoginThrottle(clock, max_tracked=100, address_failures=10_000)
    for i in range(1000):
        throttle.failed(f"id-{i}", f"10.0.{i % 250}.1")
    assert len(throttle._accounts) <= 100


def test_the_bounds_must_make_sense() -> None:
    with pytest.raises(ValueError):
        LoginThrottle(_Clock(), free_failures=10, address_failures=5)
    with pytest.raises(ValueError):
        LoginThrottle(_Clock(), first_delay=timedelta(0))
