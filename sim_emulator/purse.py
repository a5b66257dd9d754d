"""The purse of the one-card applet: balance in fen, counters, limits, exactly-once credits.

Sans-I/O state with the rules of each operation; the applet (``sim_emulator.onecard``) does the
APDU and MAC work around it.

- CREDIT (OTA only) carries a 16-octet transaction id. The last ``RECENT_CREDITS`` ids are kept
  with the result they produced, so a retried credit (PoR lost, gateway resends) changes
  nothing and answers the recorded balance and counter with ``replayed``.
- Purchases count the offline sequence number; per-purchase and daily limits apply (the day is
  the terminal's date: the card has no clock).
- UNDO reverses the last purchase, only for the terminal that made it, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ota.onecard_apdu import MAX_AMOUNT_FEN
from sim_emulator.errors import (
    CardError,
    ConditionsNotSatisfied,
    InsufficientFunds,
    WrongData,
)
from sim_emulator.sw import Sw

RECENT_CREDITS = 64
COUNTER_MAX = 0xFFFF
DEFAULT_PER_PURCHASE_LIMIT = 50_000  # 500 yuan
DEFAULT_DAILY_LIMIT = 200_000  # 2,000 yuan


class LimitExceeded(CardError):
    """A credit over the purse limit, or a purchase over the per-purchase or daily limit."""

    status_word = 0x9402  # ota.onecard_apdu.Sw.PURSE_LIMIT_EXCEEDED


class CounterExhausted(CardError):
    """The 2-octet load or offline counter has no value left: the purse must be reissued."""

    status_word = Sw.CONDITIONS_NOT_SATISFIED


@dataclass(frozen=True, slots=True)
class CreditRecord:
    transaction_id: bytes
    balance: int
    load_counter: int


@dataclass(frozen=True, slots=True)
class LastPurchase:
    terminal_id: bytes
    amount: int
    date: str
    undone: bool = False


@dataclass
class Purse:
    balance: int = 0
    load_counter: int = 0
    offline_seq: int = 0
    limit: int = MAX_AMOUNT_FEN  # maximum balance (PERSONALISE tag C3)
    per_purchase_limit: int = DEFAULT_PER_PURCHASE_LIMIT
    daily_limit: int = DEFAULT_DAILY_LIMIT
    day: str = ""  # YYYYMMDD of ``day_spent``
    day_spent: int = 0
    credits: list[CreditRecord] = field(default_factory=list)
    last: LastPurchase | None = None

    # -- credit ---------------------------------------------------------------------------

    def find_credit(self, transaction_id: bytes) -> CreditRecord | None:
        return next((c for c in self.credits if c.transaction_id == transaction_id), None)

    def credit(self, amount: int, transaction_id: bytes) -> CreditRecord:
        """Apply a new credit (the caller has checked it is not a replay)."""
        if amount <= 0:
            raise WrongData("credit amount must be positive")
        if self.balance + amount > self.limit:
            raise LimitExceeded(f"balance would exceed the purse limit of {self.limit} fen")
        if self.load_counter >= COUNTER_MAX:
            raise CounterExhausted("load counter exhausted")
        self.balance += amount
        self.load_counter += 1
        record = CreditRecord(transaction_id, self.balance, self.load_counter)
        self.credits.append(record)
        del self.credits[:-RECENT_CREDITS]
        return record

    # -- purchase -------------------------------------------------------------------------

    def check_purchase(self, amount: int, date: str | None) -> None:
        """Refuse before any MAC work when the purchase cannot succeed."""
        if amount <= 0:
            raise WrongData("purchase amount must be positive")
        if amount > self.per_purchase_limit:
            raise LimitExceeded(f"{amount} fen is over the per-purchase limit")
        if amount > self.balance:
            raise InsufficientFunds(f"balance {self.balance} fen is below {amount} fen")
        if self.offline_seq >= COUNTER_MAX:
            raise CounterExhausted("offline sequence number exhausted")
        if date is not None and self._spent_on(date) + amount > self.daily_limit:
            raise LimitExceeded(f"{amount} fen would pass the daily limit")

    def _spent_on(self, date: str) -> int:
        # A date before the stored day still counts against it: a terminal with a wrong clock
        # must not reopen the day's allowance.
        return self.day_spent if date <= self.day else 0

    def debit(self, amount: int, terminal_id: bytes, date: str) -> int:
        """Apply a purchase; returns the offline sequence number it used."""
        self.check_purchase(amount, date)
        used = self.offline_seq
        self.balance -= amount
        self.offline_seq += 1
        if date > self.day:
            self.day, self.day_spent = date, 0
        self.day_spent += amount
        self.last = LastPurchase(terminal_id, amount, date)
        return used

    def check_undo(self, amount: int, terminal_id: bytes) -> None:
        last = self.last
        if last is None or last.undone:
            raise ConditionsNotSatisfied("no purchase to undo")
        if last.terminal_id != terminal_id:
            raise ConditionsNotSatisfied("only the terminal of the last purchase may undo it")
        if last.amount != amount:
            raise WrongData(f"the last purchase was {last.amount} fen, not {amount}")
        if self.balance + amount > self.limit:
            raise LimitExceeded("undo would exceed the purse limit")
        if self.offline_seq >= COUNTER_MAX:
            raise CounterExhausted("offline sequence number exhausted")

    def undo(self, amount: int, terminal_id: bytes) -> int:
        self.check_undo(amount, terminal_id)
        assert self.last is not None
        used = self.offline_seq
        self.balance += amount
        self.offline_seq += 1
        if self.last.date == self.day:
            self.day_spent = max(0, self.day_spent - amount)
        self.last = LastPurchase(self.last.terminal_id, amount, self.last.date, undone=True)
        return used

    def clear(self) -> None:
        """Purse deleted: value and counters go, remembered credit ids stay (no double credit
        if the gateway retries an old credit after a re-installation)."""
        self.balance = self.load_counter = self.offline_seq = self.day_spent = 0
        self.limit = MAX_AMOUNT_FEN
        self.day = ""
        self.last = None

    # -- persistence ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        last = self.last
        return {
            "balance": self.balance, "load_counter": self.load_counter,
            "offline_seq": self.offline_seq, "limit": self.limit,
            "per_purchase_limit": self.per_purchase_limit, "daily_limit": self.daily_limit,
            "day": self.day, "day_spent": self.day_spent,
            "credits": [[c.transaction_id.hex(), c.balance, c.load_counter]
                        for c in self.credits],
            "last": None if last is None else [last.terminal_id.hex(), last.amount, last.date,
                                               last.undone],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Purse:
        last = raw.get("last")
        return cls(
            int(raw["balance"]), int(raw["load_counter"]), int(raw["offline_seq"]),
            int(raw["limit"]), int(raw["per_purchase_limit"]), int(raw["daily_limit"]),
            str(raw["day"]), int(raw["day_spent"]),
            [CreditRecord(bytes.fromhex(t), int(b), int(n)) for t, b, n in raw["credits"]],
            None if last is None else LastPurchase(bytes.fromhex(last[0]), int(last[1]),
                                                   str(last[2]), bool(last[3])),
        )
