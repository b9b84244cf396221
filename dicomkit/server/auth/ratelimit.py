"""Failed-login rate limiting, in memory: after ``max_failures`` failures within ``window`` seconds, a
user name or an address is locked out for ``lockout`` seconds (every attempt refused, even with the right
password). The tables are bounded (``capacity`` keys each; the oldest are forgotten first), so a flood of
made-up names cannot exhaust memory.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Entry:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class FailureLimiter:
    def __init__(self, max_failures: int = 5, window: float = 300.0, lockout: float = 300.0, *,
                 capacity: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self.capacity = capacity
        self.clock = clock
        self._tables: dict[str, OrderedDict[str, _Entry]] = {"user": OrderedDict(), "address": OrderedDict()}
        self._lock = threading.Lock()

    def _keys(self, user: str | None, address: str | None) -> list[tuple[str, str]]:
        out = []
        if user:
            out.append(("user", user))
        if address:
            out.append(("address", address))
        return out

    def locked(self, user: str | None, address: str | None) -> str | None:
        """What is locked out ("user" or "address"), or None."""
        if self.max_failures <= 0:
            return None
        now = self.clock()
        with self._lock:
            for kind, key in self._keys(user, address):
                entry = self._tables[kind].get(key)
                if entry is not None and entry.locked_until > now:
                    return kind
        return None

    def failure(self, user: str | None, address: str | None) -> bool:
        """Count a failure; True when it locks the user or the address out."""
        if self.max_failures <= 0:
            return False
        now = self.clock()
        locked = False
        with self._lock:
            for kind, key in self._keys(user, address):
                table = self._tables[kind]
                entry = table.pop(key, None) or _Entry()
                table[key] = entry  # most recent last
                while entry.failures and entry.failures[0] <= now - self.window:
                    entry.failures.popleft()
                entry.failures.append(now)
                if len(entry.failures) >= self.max_failures:
                    entry.locked_until = now + self.lockout
                    entry.failures.clear()
                    locked = True
                while len(table) > self.capacity:
                    table.popitem(last=False)
        return locked

    def success(self, user: str | None, address: str | None) -> None:
        """A successful login forgets the user's failures (not the address's: one good account must not
        unlock guessing at others from the same place)."""
        if user:
            with self._lock:
                entry = self._tables["user"].get(user)
                if entry is not None and entry.locked_until <= self.clock():
                    del self._tables["user"][user]

    def reset(self) -> None:
        """Forget every failure and lockout (an operator's unlock; a restart does the same)."""
        with self._lock:
            for table in self._tables.values():
                table.clear()


__all__ = ["FailureLimiter"]
