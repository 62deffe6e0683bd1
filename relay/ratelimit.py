"""Token-bucket rate limits, for one connection or keyed by IP address or inbox."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class TokenBucket:
    """Allow ``rate`` events per ``per`` seconds on average, with bursts up to ``burst``.

    A rate of 0 turns the limit off.
    """

    def __init__(
        self,
        rate: float,
        per: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_second = rate / per if per > 0 else 0.0
        self.capacity = burst if burst is not None else max(rate, 1.0)
        self.tokens = self.capacity
        self._clock = clock
        self._updated = clock()

    def allow(self) -> bool:
        """Take one token and return whether one was available."""
        if self.per_second == 0:
            return True
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._updated) * self.per_second)
        self._updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class KeyedRateLimiter:
    """One :class:`TokenBucket` per key, keeping at most ``max_keys`` recent keys.

    The least recently used bucket is dropped first, so memory stays bounded however many
    addresses or inboxes an attacker uses. A dropped key starts again with a full bucket.
    """

    def __init__(
        self,
        rate: float,
        per: float,
        max_keys: int = 65536,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.per = per
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[Hashable, TokenBucket] = OrderedDict()

    def allow(self, key: Hashable) -> bool:
        """Take one token from the bucket of ``key`` and return whether one was available."""
        if self.rate == 0:
            return True
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.rate, self.per, clock=self._clock)
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.allow()
