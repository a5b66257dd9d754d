"""smpp.throttle: token bucket and backoff, on a fake clock."""

from __future__ import annotations

import pytest

from smpp.throttle import Backoff, TokenBucket


def test_unlimited_bucket_never_waits() -> None:
    bucket = TokenBucket(None)
    assert all(bucket.take(0.0) == 0.0 for _ in range(1000))


def test_bucket_allows_the_contracted_rate() -> None:
    bucket = TokenBucket(100.0, burst=10, now=0.0)
    granted = sum(1 for _ in range(50) if bucket.take(0.0) == 0.0)
    assert granted == 10  # the burst
    assert bucket.take(0.0) == pytest.approx(0.01)
    now, sent = 0.0, 0
    while now < 1.0:  # one second at the rate: ~100 more
        wait = bucket.take(now)
        if wait:
            now += wait
        else:
            sent += 1
    assert 99 <= sent <= 101


def test_backoff_doubles_with_jitter_and_resets() -> None:
    backoff = Backoff(1.0, 8.0, rng=lambda: 1.0)
    assert [backoff.next() for _ in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    low = Backoff(1.0, 8.0, rng=lambda: 0.0)
    assert [low.next() for _ in range(3)] == [0.5, 1.0, 2.0]
    assert low.next(extra=5.0) == 9.0
    low.reset()
    assert low.next() == 0.5 and low.failures == 1


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)
    with pytest.raises(ValueError):
        Backoff(2.0, 1.0)
