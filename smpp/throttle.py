"""Rate limiting and backoff for a bind: a token bucket and exponential backoff with jitter.

Sans-I/O: both take ``now`` (seconds, any monotonic origin) and a random source, so tests drive
them without sleeping. The token bucket counts segments, because an SMSC's contracted rate
counts submit_sm PDUs, not messages.
"""

from __future__ import annotations

import random
from collections.abc import Callable


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up. ``rate=None``: unlimited."""

    def __init__(self, rate: float | None, burst: float | None = None, *, now: float = 0.0) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive (or None for unlimited)")
        self.rate = rate
        # One tenth of a second's worth by default: smooth enough for an SMSC that measures
        # per second, while a single segment always fits.
        self.burst = max(1.0, burst if burst is not None else (rate or 1.0) / 10)
        self._tokens = self.burst
        self._stamp = now

    def take(self, now: float) -> float:
        """Take one token: 0.0 when granted, else the seconds to wait before asking again."""
        if self.rate is None:
            return 0.0
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        # The epsilon absorbs float error: after waiting exactly the time we asked for, the
        # bucket may hold 0.9999999 tokens, which must count as one.
        if self._tokens >= 1.0 - 1e-9:
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        return (1.0 - self._tokens) / self.rate


class Backoff:
    """Exponential backoff with "equal jitter": the delay doubles from ``initial`` to
    ``maximum``; each wait is drawn from [delay/2, delay] so that many binds that failed
    together do not retry together."""

    def __init__(
        self,
        initial: float,
        maximum: float,
        *,
        factor: float = 2.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if not 0 < initial <= maximum or factor < 1:
            raise ValueError("need 0 < initial <= maximum and factor >= 1")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self._rng = rng
        self._delay = initial
        self.failures = 0

    def next(self, extra: float = 0.0) -> float:
        """The wait after one more failure (plus ``extra``, e.g. for ESME_RALYBND)."""
        delay = self._delay
        self._delay = min(self.maximum, self._delay * self.factor)
        self.failures += 1
        return delay / 2 + self._rng() * delay / 2 + extra

    def reset(self) -> None:
        self._delay = self.initial
        self.failures = 0
