"""ota.counters: CNTR coding and the receiving entity's counter policy (TS 102 225 5.1.1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ota.counters import (
    COUNTER_MAX,
    CounterDecision,
    check_counter,
    decode_counter,
    encode_counter,
    next_counter,
)
from ota.errors import CounterBlocked, CounterTooHigh, CounterTooLow, FormatError
from ota.spi import CounterMode
from ota.status import PorStatus


@given(st.integers(0, COUNTER_MAX))
def test_counter_round_trip(value: int) -> None:
    assert decode_counter(encode_counter(value)) == value


@pytest.mark.parametrize("value", [-1, COUNTER_MAX + 1])
def test_counter_out_of_range(value: int) -> None:
    with pytest.raises(FormatError):
        encode_counter(value)


def test_counter_wrong_length() -> None:
    with pytest.raises(FormatError):
        decode_counter(b"\x00" * 4)


@pytest.mark.parametrize("mode", [CounterMode.NONE, CounterMode.NO_CHECK])
def test_unchecked_modes_accept_anything_and_store_nothing(mode: CounterMode) -> None:
    assert check_counter(mode, 3, 10) == CounterDecision(3, None)


def test_higher() -> None:
    assert check_counter(CounterMode.HIGHER, 11, 10) == CounterDecision(11, 11)
    assert check_counter(CounterMode.HIGHER, 50, 10) == CounterDecision(50, 50)
    with pytest.raises(CounterTooLow) as exc:
        check_counter(CounterMode.HIGHER, 10, 10)
    assert exc.value.por_status is PorStatus.CNTR_LOW


def test_plus_one() -> None:
    assert check_counter(CounterMode.PLUS_ONE, 11, 10) == CounterDecision(11, 11)
    with pytest.raises(CounterTooLow):
        check_counter(CounterMode.PLUS_ONE, 9, 10)
    with pytest.raises(CounterTooHigh) as exc:
        check_counter(CounterMode.PLUS_ONE, 12, 10)
    assert exc.value.por_status is PorStatus.CNTR_HIGH


@pytest.mark.parametrize("mode", [CounterMode.HIGHER, CounterMode.PLUS_ONE])
def test_blocked_at_maximum(mode: CounterMode) -> None:
    with pytest.raises(CounterBlocked) as exc:
        check_counter(mode, COUNTER_MAX, COUNTER_MAX)
    assert exc.value.por_status is PorStatus.CNTR_BLOCKED


def test_next_counter() -> None:
    assert next_counter(0) == 1
    with pytest.raises(CounterBlocked):
        next_counter(COUNTER_MAX)
