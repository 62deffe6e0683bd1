"""Token buckets with a fake clock."""

from __future__ import annotations

from konsel.relay.ratelimit import KeyedRateLimiter, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_burst_then_refill() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, 60.0, burst=3, clock=clock)

    assert [bucket.allow() for _ in range(4)] == [True, True, True, False]
    clock.now += 1.0
    assert bucket.allow() is True
    assert bucket.allow() is False


def test_bucket_zero_rate_unlimited() -> None:
    bucket = TokenBucket(0, 60.0)
    assert all(bucket.allow() for _ in range(1000))


def test_keyed_limits_are_separate() -> None:
    clock = FakeClock()
    limiter = KeyedRateLimiter(2, 60.0, clock=clock)

    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]
    assert limiter.allow("b") is True


def test_keyed_memory_bounded() -> None:
    clock = FakeClock()
    limiter = KeyedRateLimiter(1, 60.0, max_keys=10, clock=clock)

    for key in range(100):
        limiter.allow(key)

    assert len(limiter._buckets) == 10
    # The oldest keys were dropped, so key 0 starts again with a full bucket.
    assert limiter.allow(0) is True
    assert limiter.allow(99) is False
