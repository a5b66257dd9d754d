"""Replay and sequence counters (CNTR, TS 102 225 5.1.1 SPI b5b4 and 5.1.2 "Counter").

CNTR is 5 octets, big-endian. The receiving entity (the card) keeps one counter per key set and
applies the policy the SPI names:

* ``NONE``: no counter; CNTR is ignored.
* ``NO_CHECK``: a counter is present but neither replay nor sequence is checked; the stored
  value is left alone, since accepting an unchecked value must not move the replay window.
* ``HIGHER``: process only if CNTR > stored, else CNTR low (02).
* ``PLUS_ONE``: process only if CNTR == stored + 1; lower or equal gives CNTR low (02),
  higher gives CNTR high (03).

When the stored value has reached 2^40 - 1 no higher value exists: the counter is blocked (04)
for every checking policy. The check only decides; the caller persists ``new_value`` once the
whole packet has verified (the counter moves only for authentic packets).
"""

from __future__ import annotations

from dataclasses import dataclass

from ota.errors import CounterBlocked, CounterTooHigh, CounterTooLow, FormatError
from ota.spi import CounterMode

COUNTER_LENGTH = 5
COUNTER_MAX = (1 << 40) - 1


def encode_counter(value: int) -> bytes:
    if not 0 <= value <= COUNTER_MAX:
        raise FormatError(f"counter {value} does not fit 5 octets")
    return value.to_bytes(COUNTER_LENGTH, "big")


def decode_counter(data: bytes) -> int:
    if len(data) != COUNTER_LENGTH:
        raise FormatError(f"CNTR is 5 octets, got {len(data)}")
    return int.from_bytes(data, "big")


@dataclass(frozen=True, slots=True)
class CounterDecision:
    """Outcome of an accepted counter: the value to persist, or None to leave it unchanged."""

    received: int
    new_value: int | None


def check_counter(mode: CounterMode, received: int, stored: int) -> CounterDecision:
    """Apply the SPI counter policy; raise the error that carries the PoR status on refusal."""
    if mode in (CounterMode.NONE, CounterMode.NO_CHECK):
        return CounterDecision(received, None)
    if stored >= COUNTER_MAX:
        raise CounterBlocked("the counter has reached its maximum value")
    if received <= stored:
        raise CounterTooLow(f"counter {received} is not above the stored {stored}")
    if mode is CounterMode.PLUS_ONE and received != stored + 1:
        raise CounterTooHigh(f"counter {received} skips ahead of the stored {stored} + 1")
    return CounterDecision(received, received)


def next_counter(last_sent: int) -> int:
    """Sending entity: the counter for the next packet, whatever the SPI policy (last + 1).

    One rule for the gateway: +1 satisfies both HIGHER and PLUS_ONE, and a strictly increasing
    counter is harmless under NONE and NO_CHECK.
    """
    if last_sent >= COUNTER_MAX:
        raise CounterBlocked("no counter value left for this key set")
    return last_sent + 1
