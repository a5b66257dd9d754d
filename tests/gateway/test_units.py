"""Small pure parts: identifiers, passwords, guards, metrics, card keys, the event bus."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest

from gateway import cardkeys, identifiers, passwords
from gateway.errors import ValidationError
from gateway.guards import RateLimiter, ReplayGuard
from gateway.metrics import Counter, Histogram, Metrics
from gateway.ports import Event, EventBus, EventName
from gateway.vault import Vault


@pytest.mark.parametrize(("raw", "e164"), [
    ("13800138000", "8613800138000"),
    ("+86 138-0013-8000", "8613800138000"),
    ("008613800138000", "8613800138000"),
    ("8613800138000", "8613800138000"),
    ("+44 7700 900123", "447700900123"),
])
def test_msisdn_normalisation(raw: str, e164: str) -> None:
    assert identifiers.msisdn(raw) == e164


@pytest.mark.parametrize("raw", ["", "12345", "+0123456789", "abc", "1" * 16])
def test_bad_msisdn(raw: str) -> None:
    with pytest.raises(ValidationError) as info:
        identifiers.msisdn(raw, "members[1].msisdn")
    assert info.value.field == "members[1].msisdn"


def test_iccid() -> None:
    assert identifiers.iccid("8986001234567890123f") == "8986001234567890123"
    for bad in ("1234567890123456789", "89860012", "8986ABCDEF1234567890"):
        with pytest.raises(ValidationError):
            identifiers.iccid(bad)


def test_passwords() -> None:
    stored = passwords.hash_password("123456")
    assert stored.startswith("scrypt$") and "123456" not in stored
    assert passwords.verify_password("123456", stored)
    assert not passwords.verify_password("654321", stored)
    assert not passwords.verify_password("123456", "garbage")
    assert not passwords.verify_password("123456", "md5$1$2$3$4$5")


def test_rate_limiter() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=3, clock=lambda: now[0])
    assert [limiter.acquire("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("k") == pytest.approx(0.5)
    assert limiter.acquire("other") == 0.0
    now[0] = 0.5
    assert limiter.acquire("k") == 0.0


def test_replay_guard_forgets_after_the_window() -> None:
    now = [0.0]
    guard = ReplayGuard(10, clock=lambda: now[0])
    assert guard.first_sighting("n") and not guard.first_sighting("n")
    now[0] = 25.0
    assert guard.first_sighting("n")


def test_metrics_text_format() -> None:
    metrics = Metrics()
    metrics.http_requests.inc(method="GET", route='/a"b', status="200")
    metrics.http_seconds.observe(0.003, route="/a")
    text = metrics.render()
    assert '# TYPE onecard_http_requests_total counter' in text
    assert 'onecard_http_requests_total{method="GET",route="/a\\"b",status="200"} 1' in text
    assert 'onecard_http_request_seconds_bucket{route="/a",le="0.0025"} 0' in text
    assert 'onecard_http_request_seconds_bucket{route="/a",le="+Inf"} 1' in text
    assert "onecard_http_request_seconds_count{route=\"/a\"} 1" in text
    with pytest.raises(ValueError):
        metrics.add(Counter("onecard_http_requests_total", "again"))
    assert Histogram("h", "h").render() == ["# HELP h h", "# TYPE h histogram"]


def test_card_keys_are_derived_sealed_and_never_shown() -> None:
    root = os.urandom(16)
    keys = cardkeys.derive(root, "89860000000000000001")
    assert keys == cardkeys.derive(root, "89860000000000000001")
    assert keys.kic != cardkeys.derive(root, "89860000000000000002").kic
    vault = Vault([os.urandom(32)])
    blob = cardkeys.seal(vault, "89860000000000000001", keys)
    assert cardkeys.unseal(vault, "89860000000000000001", blob) == keys
    assert keys.kic.hex() not in repr(keys)
    assert set(cardkeys.describe(keys)) == {"kic_algorithm", "kic_index", "kid_algorithm",
                                            "kid_index"}


def test_given_card_keys_are_checked() -> None:
    keys = cardkeys.from_json({"kic": "00" * 16, "kid": "11" * 16})
    assert keys.kic_algorithm.name == "AES_CBC"
    with pytest.raises(ValidationError) as info:
        cardkeys.from_json({"kic": "00" * 15, "kid": "11" * 16})
    assert info.value.field == "keys"
    with pytest.raises(ValidationError) as info:
        cardkeys.from_json({"kic": "00" * 16, "kid": "11" * 16, "kic_algorithm": "ROT13"})
    assert info.value.field == "keys.kic_algorithm"


async def test_event_bus_notifier_failure_is_contained() -> None:
    seen: list[str] = []

    class Broken:
        async def notify(self, events: Sequence[Event]) -> None:
            raise RuntimeError("down")

    class Good:
        async def notify(self, events: Sequence[Event]) -> None:
            seen.extend(e.name.value for e in events)

    bus = EventBus()
    bus.add_notifier(Broken())
    bus.add_notifier(Good())
    await bus.after_commit([Event(EventName.CARD_LOST, 1)])
    assert seen == ["card.lost"]
