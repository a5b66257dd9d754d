"""Reconciliation: what was rated vs what was exported vs the ledger, per enterprise and month.

Pure comparison of figures the adapters gather:

- *rated*: the month's records rated now, with the month's tariff (``billing.rating``);
- *exported*: the invoice lines of the month's export files, plus adjustments issued later;
- *ledger*: the gateway's ledger for the month (top-ups, purchases, refunds), the truth for
  money on cards; and the cards whose last reported purse balance differs from the ledger.

Every difference becomes a ``Finding`` with a code, so a report is machine-checkable
(``report.ok``) as well as readable.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from billing.period import Period
from billing.rating import InvoiceLine
from billing.tariffs import ChargeItem


class FindingCode(StrEnum):
    NOT_EXPORTED = "not_exported"  # rated charges, but no export of the month yet
    UNBILLED = "unbilled"  # rated differs from exported + adjustments: re-rate to adjust
    TOPUP_MISMATCH = "topup_mismatch"  # top-up records disagree with the ledger's top-ups
    BALANCE_MISMATCH = "balance_mismatch"  # a card's purse differs from its ledger balance


@dataclass(frozen=True, slots=True)
class Finding:
    code: FindingCode
    detail: str


@dataclass(frozen=True, slots=True)
class LedgerTotals:
    """An enterprise's ledger movements of the month, in fen."""

    topup_count: int = 0
    topup_fen: int = 0
    purchase_fen: int = 0
    refund_fen: int = 0


@dataclass(frozen=True, slots=True)
class CardBalance:
    """A card's purse as the card last reported it, and its balance in the ledger."""

    enterprise_id: str
    iccid: str
    card_fen: int
    ledger_fen: int
    source: str = "terminal"  # what reported it: a terminal record, or an OTA top-up's PoR


@dataclass(frozen=True, slots=True)
class ItemRow:
    item: ChargeItem
    rated_fen: int
    exported_fen: int
    adjusted_fen: int

    @property
    def difference_fen(self) -> int:
        return self.rated_fen - self.exported_fen - self.adjusted_fen


@dataclass(frozen=True, slots=True)
class EnterpriseReconciliation:
    enterprise_id: str
    period: Period
    items: tuple[ItemRow, ...]
    topup_records: int
    topup_records_fen: int
    ledger: LedgerTotals
    balance_mismatches: tuple[CardBalance, ...]
    findings: tuple[Finding, ...]

    @property
    def rated_fen(self) -> int:
        return sum(row.rated_fen for row in self.items)

    @property
    def exported_fen(self) -> int:
        return sum(row.exported_fen for row in self.items)

    @property
    def adjusted_fen(self) -> int:
        return sum(row.adjusted_fen for row in self.items)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "enterprise_id": self.enterprise_id,
            "period": str(self.period),
            "rated_fen": self.rated_fen,
            "exported_fen": self.exported_fen,
            "adjusted_fen": self.adjusted_fen,
            "items": [
                {
                    "item": row.item.name,
                    "rated_fen": row.rated_fen,
                    "exported_fen": row.exported_fen,
                    "adjusted_fen": row.adjusted_fen,
                    "difference_fen": row.difference_fen,
                }
                for row in self.items
            ],
            "topups": {
                "records": self.topup_records,
                "records_fen": self.topup_records_fen,
                "ledger": self.ledger.topup_count,
                "ledger_fen": self.ledger.topup_fen,
            },
            "ledger": {
                "purchase_fen": self.ledger.purchase_fen,
                "refund_fen": self.ledger.refund_fen,
            },
            "balance_mismatches": [
                {
                    "iccid": b.iccid,
                    "card_fen": b.card_fen,
                    "ledger_fen": b.ledger_fen,
                    "source": b.source,
                }
                for b in self.balance_mismatches
            ],
            "findings": [{"code": f.code.value, "detail": f.detail} for f in self.findings],
            "ok": self.ok,
        }


@dataclass(frozen=True, slots=True)
class ReconciliationReport:
    period: Period
    exported: bool
    enterprises: tuple[EnterpriseReconciliation, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.enterprises)

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": str(self.period),
            "exported": self.exported,
            "ok": self.ok,
            "enterprises": [e.to_dict() for e in self.enterprises],
        }


@dataclass(frozen=True, slots=True)
class ReconcileInput:
    """Everything the comparison needs for one month (of one carrier, or one enterprise)."""

    period: Period
    rated: tuple[InvoiceLine, ...]
    exported: tuple[InvoiceLine, ...] | None  # None: the month has not been exported
    adjusted: Mapping[tuple[str, ChargeItem], int]  # fen of adjustments issued for the month
    ledger: Mapping[str, LedgerTotals]
    balances: tuple[CardBalance, ...] = ()


def reconcile(data: ReconcileInput) -> ReconciliationReport:
    rated = _by_enterprise_item(data.rated)
    exported = _by_enterprise_item(data.exported or ())
    topups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for line in data.rated:
        if line.item is ChargeItem.TOPUP:
            topups[line.enterprise_id][0] += line.records
            topups[line.enterprise_id][1] += line.value_fen
    mismatches: dict[str, list[CardBalance]] = defaultdict(list)
    for balance in data.balances:
        if balance.card_fen != balance.ledger_fen:
            mismatches[balance.enterprise_id].append(balance)
    enterprises = sorted(
        {e for e, _ in rated}
        | {e for e, _ in exported}
        | {e for e, _ in data.adjusted}
        | set(data.ledger)
        | set(mismatches)
    )
    rows = []
    for enterprise_id in enterprises:
        items = tuple(
            ItemRow(
                item,
                rated.get((enterprise_id, item), 0),
                exported.get((enterprise_id, item), 0),
                data.adjusted.get((enterprise_id, item), 0),
            )
            for item in ChargeItem
            if item is not ChargeItem.ADJUSTMENT
            and any((enterprise_id, item) in m for m in (rated, exported, data.adjusted))
        )
        count, value = topups.get(enterprise_id, [0, 0])
        ledger = data.ledger.get(enterprise_id, LedgerTotals())
        mine = tuple(mismatches.get(enterprise_id, ()))
        findings = _findings(items, data.exported is not None, count, value, ledger, mine)
        rows.append(
            EnterpriseReconciliation(
                enterprise_id, data.period, items, count, value, ledger, mine, findings
            )
        )
    return ReconciliationReport(data.period, data.exported is not None, tuple(rows))


def _by_enterprise_item(lines: Iterable[InvoiceLine]) -> dict[tuple[str, ChargeItem], int]:
    totals: dict[tuple[str, ChargeItem], int] = defaultdict(int)
    for line in lines:
        if line.item is not ChargeItem.ADJUSTMENT:
            totals[(line.enterprise_id, line.item)] += line.amount_fen
    return dict(totals)


def _findings(
    items: tuple[ItemRow, ...],
    exported: bool,
    topup_records: int,
    topup_fen: int,
    ledger: LedgerTotals,
    mismatches: tuple[CardBalance, ...],
) -> tuple[Finding, ...]:
    findings = []
    rated = sum(row.rated_fen for row in items)
    if not exported and rated:
        findings.append(Finding(FindingCode.NOT_EXPORTED, f"{rated} fen rated, not exported"))
    for row in items:
        if exported and row.difference_fen:
            findings.append(
                Finding(
                    FindingCode.UNBILLED,
                    f"{row.item.name}: rated {row.rated_fen} fen, exported {row.exported_fen}"
                    f" + adjusted {row.adjusted_fen}",
                )
            )
    if (topup_records, topup_fen) != (ledger.topup_count, ledger.topup_fen):
        findings.append(
            Finding(
                FindingCode.TOPUP_MISMATCH,
                f"{topup_records} top-up records for {topup_fen} fen, ledger has "
                f"{ledger.topup_count} for {ledger.topup_fen} fen",
            )
        )
    for balance in mismatches:
        findings.append(
            Finding(
                FindingCode.BALANCE_MISMATCH,
                f"card {balance.iccid}: purse {balance.card_fen} fen ({balance.source}), "
                f"ledger {balance.ledger_fen}",
            )
        )
    return tuple(findings)
