from __future__ import annotations

from billing.period import Period
from billing.rating import InvoiceLine
from billing.reconcile import (
    CardBalance,
    FindingCode,
    LedgerTotals,
    ReconcileInput,
    reconcile,
)
from billing.tariffs import UNITS_PER_FEN, ChargeItem

OCT = Period(2026, 10)


def line(ent: str, item: ChargeItem, fen: int, records: int = 1, value: int = 0) -> InvoiceLine:
    return InvoiceLine(OCT, ent, item, "", records, records, fen * UNITS_PER_FEN, value)


RATED = (
    line("E1", ChargeItem.SERVICE_FEE, 1500, 3),
    line("E1", ChargeItem.TOPUP, 0, 2, value=30_000),
    line("E2", ChargeItem.SMS_BILL, 40, 10),
)


def test_everything_agrees() -> None:
    report = reconcile(
        ReconcileInput(
            OCT,
            RATED,
            RATED,
            {},
            {"E1": LedgerTotals(2, 30_000, purchase_fen=12_000, refund_fen=500)},
            (CardBalance("E1", "8986", 100, 100),),
        )
    )
    assert report.ok and report.exported
    e1 = report.enterprises[0]
    assert (e1.rated_fen, e1.exported_fen, e1.ledger.purchase_fen) == (1500, 1500, 12_000)
    assert report.to_dict()["enterprises"][0]["topups"] == {
        "records": 2,
        "records_fen": 30_000,
        "ledger": 2,
        "ledger_fen": 30_000,
    }


def test_late_records_show_as_unbilled_until_adjusted() -> None:
    exported = (line("E1", ChargeItem.SERVICE_FEE, 1400, 3), *RATED[1:])
    ledger = {"E1": LedgerTotals(2, 30_000)}
    report = reconcile(ReconcileInput(OCT, RATED, exported, {}, ledger))
    (finding,) = report.enterprises[0].findings
    assert finding.code is FindingCode.UNBILLED and "rated 1500" in finding.detail
    adjusted = {("E1", ChargeItem.SERVICE_FEE): 100}
    assert reconcile(ReconcileInput(OCT, RATED, exported, adjusted, ledger)).ok


def test_not_exported_topup_and_balance_findings() -> None:
    report = reconcile(
        ReconcileInput(
            OCT,
            RATED,
            None,
            {},
            {"E1": LedgerTotals(3, 31_000)},
            (CardBalance("E1", "8986001", 500, 700), CardBalance("E2", "8986002", 5, 5)),
        )
    )
    assert not report.ok and not report.exported
    codes = [f.code for f in report.enterprises[0].findings]
    assert codes == [
        FindingCode.NOT_EXPORTED,
        FindingCode.TOPUP_MISMATCH,
        FindingCode.BALANCE_MISMATCH,
    ]
    as_json = report.to_dict()["enterprises"][0]
    assert as_json["balance_mismatches"] == [
        {"iccid": "8986001", "card_fen": 500, "ledger_fen": 700, "source": "terminal"}
    ]
    assert [f.code for f in report.enterprises[1].findings] == [FindingCode.NOT_EXPORTED]


def test_enterprises_known_only_to_the_ledger_are_reported() -> None:
    report = reconcile(ReconcileInput(OCT, (), (), {}, {"E9": LedgerTotals(1, 100)}))
    (only,) = report.enterprises
    assert only.enterprise_id == "E9" and only.findings[0].code is FindingCode.TOPUP_MISMATCH
