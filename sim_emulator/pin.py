"""PINs and their retry counters (ETSI TS 102 221 9.5 and 11.1.9 .. 11.1.13).

Values are 8 octets, ASCII digits padded with 'FF' (TS 102 221 9.5.1). Retry counters and
enable state are persistent; "verified" is volatile and cleared by a reset.
"""

from __future__ import annotations

import enum
import hmac
from dataclasses import dataclass
from typing import Any

from sim_emulator.errors import (
    AuthBlocked,
    ConditionsNotSatisfied,
    DataNotFound,
    VerifyFailed,
    WrongData,
    WrongLength,
)

PIN_LENGTH = 8


class KeyRef(enum.IntEnum):
    """PIN key references (TS 102 221 9.5.1, Table 9.3)."""

    PIN1 = 0x01  # PIN Appl 1 (universal PIN on single-verification cards)
    ADM1 = 0x0A  # first administrative key
    PIN2 = 0x81  # second PIN Appl 1


def pad_pin(digits: str) -> bytes:
    """ASCII digits padded to 8 octets with 'FF' (TS 102 221 9.5.1)."""
    raw = digits.encode("ascii")
    if not 4 <= len(raw) <= PIN_LENGTH:
        raise WrongData(f"a PIN has 4 to {PIN_LENGTH} digits, got {len(raw)}")
    return raw.ljust(PIN_LENGTH, b"\xff")


def _check_format(value: bytes) -> None:
    if len(value) != PIN_LENGTH:
        raise WrongLength(f"PIN block is {len(value)} octets, expected {PIN_LENGTH}")
    digits = value.rstrip(b"\xff")
    if len(digits) < 4 or not digits.isdigit():
        # TS 102 221 9.5.1 allows only digits; the ADM key may be any 8 octets.
        raise WrongData("PIN must be 4 to 8 ASCII digits padded with 'FF'")


@dataclass
class Pin:
    ref: KeyRef
    value: bytes
    unblock: bytes
    max_retries: int = 3
    retries: int = 3
    max_unblock_retries: int = 10
    unblock_retries: int = 10
    enabled: bool = True
    verified: bool = False  # volatile

    @property
    def satisfied(self) -> bool:
        return self.verified or not self.enabled

    def reset(self) -> None:
        self.verified = False

    def status(self) -> None:
        """VERIFY with no data: report the state without presenting a value (11.1.9)."""
        if self.retries == 0:
            raise AuthBlocked(f"{self.ref.name} is blocked")
        if not self.satisfied:
            raise VerifyFailed(self.retries)

    def verify(self, value: bytes) -> None:
        if self.ref is not KeyRef.ADM1:
            _check_format(value)
        elif len(value) != PIN_LENGTH:
            raise WrongLength(f"ADM block is {len(value)} octets, expected {PIN_LENGTH}")
        if self.retries == 0:
            raise AuthBlocked(f"{self.ref.name} is blocked")
        if not hmac.compare_digest(value, self.value):
            self.retries -= 1
            self.verified = False
            if self.retries == 0:
                raise AuthBlocked(f"{self.ref.name} is now blocked")
            raise VerifyFailed(self.retries)
        self.retries = self.max_retries
        self.verified = True

    def change(self, old: bytes, new: bytes) -> None:
        if not self.enabled:
            # 11.1.10: CHANGE PIN on a disabled PIN is not allowed.
            raise ConditionsNotSatisfied(f"{self.ref.name} is disabled")
        _check_format(new)
        self.verify(old)
        self.value = new

    def disable(self, value: bytes) -> None:
        if not self.enabled:
            raise ConditionsNotSatisfied(f"{self.ref.name} is already disabled")
        self.verify(value)
        self.enabled = False

    def enable(self, value: bytes) -> None:
        if self.enabled:
            raise ConditionsNotSatisfied(f"{self.ref.name} is already enabled")
        self.verify(value)
        self.enabled = True

    def unblock_with(self, puk: bytes, new: bytes | None) -> None:
        """UNBLOCK PIN (11.1.13); ``new`` None only reports the unblock retries."""
        if new is None and not puk:
            if self.unblock_retries == 0:
                raise AuthBlocked(f"unblock key of {self.ref.name} is blocked")
            raise VerifyFailed(self.unblock_retries)
        if new is None:
            raise WrongLength("UNBLOCK PIN needs the unblock key and the new PIN")
        _check_format(puk)
        _check_format(new)
        if self.unblock_retries == 0:
            raise AuthBlocked(f"unblock key of {self.ref.name} is blocked")
        if not hmac.compare_digest(puk, self.unblock):
            self.unblock_retries -= 1
            if self.unblock_retries == 0:
                raise AuthBlocked(f"unblock key of {self.ref.name} is now blocked")
            raise VerifyFailed(self.unblock_retries)
        self.unblock_retries = self.max_unblock_retries
        self.value = new
        self.retries = self.max_retries
        self.verified = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": int(self.ref),
            "value": self.value.hex(),
            "unblock": self.unblock.hex(),
            "max_retries": self.max_retries,
            "retries": self.retries,
            "max_unblock_retries": self.max_unblock_retries,
            "unblock_retries": self.unblock_retries,
            "enabled": self.enabled,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Pin:
        return cls(
            ref=KeyRef(int(raw["ref"])),
            value=bytes.fromhex(raw["value"]),
            unblock=bytes.fromhex(raw["unblock"]),
            max_retries=int(raw["max_retries"]),
            retries=int(raw["retries"]),
            max_unblock_retries=int(raw["max_unblock_retries"]),
            unblock_retries=int(raw["unblock_retries"]),
            enabled=bool(raw["enabled"]),
        )


class PinSet:
    """The card's PINs by key reference."""

    def __init__(self, pins: list[Pin]) -> None:
        self.pins = {p.ref: p for p in pins}

    def get(self, ref: int) -> Pin:
        try:
            return self.pins[KeyRef(ref)]
        except ValueError as exc:
            raise DataNotFound(f"no PIN with key reference {ref:02X}") from exc
        except KeyError as exc:
            raise DataNotFound(f"no PIN with key reference {ref:02X}") from exc

    def reset(self) -> None:
        for pin in self.pins.values():
            pin.reset()

    def template(self) -> list[tuple[int, bool]]:
        return [(int(p.ref), p.enabled) for p in self.pins.values()]
