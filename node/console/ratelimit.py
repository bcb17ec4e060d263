"""Login throttling: too many failures from one address or for one operator id lock it out for a while."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = ["LoginThrottle"]


@dataclass
class LoginThrottle:
    """At most `max_failures` failed logins per key within `window`; success clears the operator's count."""

    clock: Callable[[], datetime]
    max_failures: int = 5
    window: timedelta = timedelta(minutes=10)
    _failures: dict[str, deque[datetime]] = field(default_factory=lambda: defaultdict(deque))

    def _recent(self, key: str) -> deque[datetime]:
        times = self._failures[key]
        cutoff = self.clock() - self.window
        while times and times[0] < cutoff:
            times.popleft()
        return times

    def blocked(self, *keys: str) -> bool:
        return any(len(self._recent(k)) >= self.max_failures for k in keys)

    def failed(self, *keys: str) -> None:
        now = self.clock()
        for k in keys:
            self._recent(k).append(now)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
