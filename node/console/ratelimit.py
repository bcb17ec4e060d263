"""Login throttling: per operator account a growing delay after failures; per address a high bound only.

Behind the TLS proxy every operator shares one address, so a hard lock per address would let a
stranger lock every operator out. An account's failures buy the next attempt a doubling wait
(brute force stays expensive); an address is stopped only after many failures (a spray over ids).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = ["LoginThrottle"]


@dataclass
class _Account:
    failures: int
    last: datetime


@dataclass
class LoginThrottle:
    """`free_failures` failed logins per operator id are free; each further one doubles the wait before
    the next attempt (from `first_delay`, at most `max_delay`). An account's count is forgotten on
    success or after `forget_after` without failures. An address may fail `address_failures` times
    per `address_window` (over all ids) before it waits out the window."""

    clock: Callable[[], datetime]
    free_failures: int = 5
    first_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(minutes=15)
    forget_after: timedelta = timedelta(hours=24)
    address_failures: int = 100
    address_window: timedelta = timedelta(minutes=10)
    max_tracked: int = 10_000
    _accounts: dict[str, _Account] = field(default_factory=dict)
    _addresses: dict[str, deque[datetime]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.free_failures < 1 or self.address_failures < self.free_failures:
            raise ValueError("the address bound must be at least the per-account one, both positive")
        if self.first_delay <= timedelta(0) or self.max_delay < self.first_delay:
            raise ValueError("delays must be positive, the longest at least the first")

    def _delay(self, failures: int) -> timedelta:
        extra = failures - self.free_failures
        if extra < 0:
            return timedelta(0)
        return min(self.first_delay * (2 ** min(extra, 32)), self.max_delay)

    def _account(self, operator: str, now: datetime) -> _Account | None:
        account = self._accounts.get(operator)
        if account is not None and now - account.last > self.forget_after:
            del self._accounts[operator]
            return None
        return account

    def _recent(self, address: str, now: datetime) -> deque[datetime]:
        times = self._addresses.setdefault(address, deque())
        cutoff = now - self.address_window
        while times and times[0] <= cutoff:
            times.popleft()
        return times

    def retry_after(self, operator: str, address: str) -> timedelta | None:
        """None if a login for `operator` from `address` may be tried now, else how long to wait."""
        now = self.clock()
        waits = []
        account = self._account(operator, now)
        if account is not None:
            until = account.last + self._delay(account.failures)
            if until > now:
                waits.append(until - now)
        times = self._recent(address, now)
        if len(times) >= self.address_failures:
            waits.append(times[-self.address_failures] + self.address_window - now)
        if not times:
            self._addresses.pop(address, None)
        return max(waits) if waits else None

    def failed(self, operator: str, address: str) -> None:
        now = self.clock()
        if len(self._accounts) >= self.max_tracked or len(self._addresses) >= self.max_tracked:
            self._prune(now)
        account = self._account(operator, now)
        if account is None:
            self._accounts[operator] = _Account(1, now)
        else:
            account.failures += 1
            account.last = now
        self._recent(address, now).append(now)

    def succeeded(self, operator: str) -> None:
        self._accounts.pop(operator, None)

    def _prune(self, now: datetime) -> None:
        for operator in [o for o, a in self._accounts.items() if now - a.last > self.forget_after]:
            del self._accounts[operator]
        for address in list(self._addresses):
            if not self._recent(address, now):
                del self._addresses[address]
        # Still full (a spray over made-up ids): drop the accounts that would wait least.
        if len(self._accounts) >= self.max_tracked:
            keep = sorted(self._accounts.items(), key=lambda item: item[1].last)[len(self._accounts) // 2 :]
            self._accounts = dict(keep)
