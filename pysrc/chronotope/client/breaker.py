"""A circuit breaker: stop calling a server that keeps failing, probe it again after a cool-down.

States: ``closed`` (calls pass) → ``open`` after ``failure_threshold``
consecutive failures, or a failure rate of at least ``failure_rate`` over the
last ``window`` calls → ``half-open`` once ``cooldown`` seconds passed: one
probe call goes through, the others are rejected; the probe's success closes
the breaker, its failure opens it again for another cool-down.

Failures are what says the *server* is unwell (connection errors, timeouts,
5xx, 429); a 4xx answer is a success here — the server is fine, the request
was not. One instance is shared by every thread and task of a transport: each
method holds a lock only for a few assignments and never awaits, so the same
object is safe under threads and under asyncio.

>>> b = CircuitBreaker(failure_threshold=2, cooldown=60)
>>> b.acquire(); b.record(False); b.acquire(); b.record(False)
>>> b.state
'open'
"""

from __future__ import annotations

import collections
import threading
import time

from .problems import CircuitOpenError

__all__ = ["CircuitBreaker", "CircuitOpenError"]


class CircuitBreaker:
    """Per-transport circuit breaker (see the module docstring for the rules).

    Parameters
    ----------
    failure_threshold : int
        Consecutive failures that open the breaker.
    failure_rate : float
        Failure share (0..1] over the last ``window`` calls that opens it; judged once
        ``window`` calls were seen.
    window : int
        How many recent calls the failure rate looks at.
    cooldown : float
        Seconds the breaker stays open before letting one probe through.
    """

    def __init__(self, failure_threshold: int = 5, failure_rate: float = 0.5, window: int = 20,
                 cooldown: float = 10.0, *, clock=time.monotonic):
        if failure_threshold < 1 or window < 1 or not 0 < failure_rate <= 1 or cooldown < 0:
            raise ValueError("failure_threshold and window must be >= 1, failure_rate in (0, 1], cooldown >= 0")
        self.failure_threshold, self.failure_rate, self.window, self.cooldown = (
            failure_threshold, failure_rate, window, cooldown)
        self._clock = clock
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Back to closed with empty history and zeroed counters."""
        with self._lock:
            self._state = "closed"
            self._recent: collections.deque[bool] = collections.deque(maxlen=self.window)  # True = failure
            self._consecutive = 0
            self._opened_at = 0.0
            self._probing = False
            self._counters = {"calls": 0, "successes": 0, "failures": 0, "rejected": 0, "opened": 0}

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half-open"`` (an open breaker whose cool-down has passed)."""
        with self._lock:
            return self._current_state()

    @property
    def counters(self) -> dict:
        """Calls let through, successes, failures, calls rejected while open, times opened, and the
        current consecutive failures and failure rate (a copy)."""
        with self._lock:
            rate = sum(self._recent) / len(self._recent) if self._recent else 0.0
            return {**self._counters, "consecutive_failures": self._consecutive, "failure_rate": rate,
                    "state": self._current_state()}

    def _current_state(self) -> str:
        if self._state == "open" and self._clock() >= self._opened_at + self.cooldown:
            return "half-open"
        return self._state

    def acquire(self) -> None:
        """Let one call through or raise :class:`CircuitOpenError` (open, or half-open with its probe out)."""
        with self._lock:
            state = self._current_state()
            if state == "closed":
                self._counters["calls"] += 1
                return
            if state == "half-open" and not self._probing:
                self._state, self._probing = "half-open", True  # this call is the probe
                self._counters["calls"] += 1
                return
            self._counters["rejected"] += 1
            probe_in = max(0.0, self._opened_at + self.cooldown - self._clock())
        when = ("a probe request is in flight" if state == "half-open"
                else f"it will probe the server in {probe_in:.1f}s")
        raise CircuitOpenError(f"circuit breaker open after repeated server failures; {when}")

    def record(self, success: bool) -> None:
        """Report the outcome of a call that :meth:`acquire` let through."""
        with self._lock:
            self._counters["successes" if success else "failures"] += 1
            self._recent.append(not success)
            self._consecutive = 0 if success else self._consecutive + 1
            if self._state == "half-open":
                self._probing = False
                if success:
                    self._close()
                else:
                    self._open()
            elif self._state == "closed" and not success and self._should_open():
                self._open()

    def release(self) -> None:
        """Forget a call let through whose outcome says nothing about the server (e.g. cancelled)."""
        with self._lock:
            if self._state == "half-open":
                self._probing = False

    def _should_open(self) -> bool:
        if self._consecutive >= self.failure_threshold:
            return True
        return len(self._recent) >= self.window and sum(self._recent) / len(self._recent) >= self.failure_rate

    def _open(self) -> None:
        self._state, self._opened_at = "open", self._clock()
        self._counters["opened"] += 1

    def _close(self) -> None:
        self._state, self._consecutive = "closed", 0
        self._recent.clear()

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.state} {self.counters}>"
