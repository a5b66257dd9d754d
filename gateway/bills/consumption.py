"""Consumption (消费): a member's purchases, top-ups and balance over a bill period.

Only records the ledger applied count (a flagged record, e.g. refused for a short purse, moved
no money). A purchase later undone (撤销, seed 四 FAQ 11), whenever the undo came, is not
counted: the bill shows what the member finally paid. An undo of a purchase from an earlier
period changes nothing here (that bill already went out; the balance shows the refund).
Amounts are integer fen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.domain import RecordKind


@dataclass(frozen=True, slots=True)
class Movement:
    """One applied terminal record, as far as a bill cares."""

    kind: RecordKind
    terminal_id: int
    seq: int
    amount_fen: int
    undo_seq: int | None = None


@dataclass(frozen=True, slots=True)
class ConsumptionSummary:
    purchases: int
    spent_fen: int
    largest_fen: int
    topups: int
    topped_up_fen: int
    balance_fen: int | None  # the purse's ledger balance when the bill was made; None: no purse

    def to_dict(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in self.__slots__}


def summarise(in_period: Iterable[Movement], undos: Iterable[Movement],
              balance_fen: int | None) -> ConsumptionSummary:
    """``in_period``: the member's applied purchases and top-ups of the period; ``undos``:
    applied undo records from the period's start on (they may come after it)."""
    undone = {(u.terminal_id, u.undo_seq) for u in undos if u.kind is RecordKind.UNDO}
    spent = topped = purchases = topups = largest = 0
    for m in in_period:
        if m.kind is RecordKind.PURCHASE and (m.terminal_id, m.seq) not in undone:
            purchases += 1
            spent += m.amount_fen
            largest = max(largest, m.amount_fen)
        elif m.kind is RecordKind.TOPUP:
            topups += 1
            topped += m.amount_fen
    return ConsumptionSummary(purchases, spent, largest, topups, topped, balance_fen)
