"""Rate limits per principal and per client address (the ``limits`` library's moving window, in memory).

A limit like ``1000/minute`` applies to each key separately; a request over it
is answered 429 with ``Retry-After`` and the ``RateLimit-*`` headers of the
IETF draft (limit, remaining, seconds to reset).
"""

from __future__ import annotations

import math
import time

from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from chronotope_api.problems import Problem

__all__ = ["Throttle"]


class Throttle:
    """One named limit (e.g. "1000/minute"; "off" for none) checked per key."""

    def __init__(self, spec: str, name: str):
        self.items = [] if spec == "off" else parse_many(spec)
        self.name = name
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, *key: str) -> dict:
        """Count one request for ``key``; the RateLimit headers, or Problem(429) when over the limit."""
        headers = {}
        for item in self.items:
            allowed = self._limiter.hit(item, self.name, *key)
            stats = self._limiter.get_window_stats(item, self.name, *key)
            reset = max(0, math.ceil(stats.reset_time - time.time()))
            headers = {"RateLimit-Limit": str(item.amount), "RateLimit-Remaining": str(stats.remaining),
                       "RateLimit-Reset": str(reset)}
            if not allowed:
                raise Problem(429, f"rate limit of {item} per {self.name} exceeded; retry in {max(reset, 1)} s",
                              {**headers, "Retry-After": str(max(reset, 1))})
        return headers
