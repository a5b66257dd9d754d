"""A small, fixed month of usage for two enterprises: the input of the golden files.

It covers every kind of record and the proration cases: a member in service all month, one
who joined mid-month, one deregistered mid-month, one whose card was replaced (one
member-month, the new card), and one who joined and left within the month.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from billing.cdr import Cdr, CdrKind, make_cdr_id
from billing.export.base import FileContext
from billing.period import Period
from billing.tariffs import FeePlan, Proration, Tariff

PERIOD = Period(2026, 10)
CST = timezone(timedelta(hours=8))
OPENED = datetime(2026, 11, 1, 2, 30, tzinfo=UTC)

STANDARD = FeePlan(
    "STD",
    "标准资费",
    (
        Tariff(Period(2026, 1), Decimal(300), sms_bill=Decimal("4"), sms_notice=Decimal("5")),
        Tariff(
            Period(2026, 9),
            Decimal(500),
            sms_bill=Decimal("4.5"),
            sms_notice=Decimal("5"),
            sms_service=Decimal("0.3"),
            ota=Decimal("10"),
            topup_percent=Decimal("0.5"),
        ),
    ),
)
CAMPUS = FeePlan(
    "CAMPUS",
    "校园包月",
    (
        Tariff(
            Period(2026, 1),
            Decimal(400),
            proration=Proration.FULL_MONTH,
            sms_bill=Decimal("3.3333"),
            topup_fee=Decimal("20"),
        ),
    ),
)
TARIFFS = {"ENT001": STANDARD.tariff_for(PERIOD), "ENT002": CAMPUS.tariff_for(PERIOD)}


def at(day: int, hour: int = 10, month: int = 10, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=CST)


def _event(kind: CdrKind, when: datetime, ent: str, member: str, msisdn: str, iccid: str) -> Cdr:
    return Cdr(
        make_cdr_id(kind, "member", member, when.isoformat()),
        kind,
        when,
        ent,
        member,
        msisdn,
        iccid,
    )


def membership_events() -> list[Cdr]:
    start, end, swap = CdrKind.SERVICE_START, CdrKind.SERVICE_END, CdrKind.CARD_REPLACED
    return [
        _event(start, at(1, month=3), "ENT001", "M001", "13800000001", "89860000000000000011"),
        _event(start, at(15), "ENT001", "M002", "13800000002", "89860000000000000022"),
        _event(start, at(1, month=6), "ENT001", "M003", "13800000003", "89860000000000000033"),
        _event(end, at(10, 9), "ENT001", "M003", "13800000003", "89860000000000000033"),
        _event(start, at(2, month=1), "ENT001", "M004", "13800000004", "89860000000000000044"),
        _event(swap, at(20), "ENT001", "M004", "13800000004", "89860000000000000045"),
        _event(start, at(5), "ENT002", "S001", "13900000001", "89860000000000000101"),
        _event(end, at(6, 8), "ENT002", "S001", "13900000001", "89860000000000000101"),
        _event(start, at(1, month=9), "ENT002", "S002", "13900000002", "89860000000000000102"),
    ]


def usage() -> list[Cdr]:
    def cdr(kind: CdrKind, key: str, when: datetime, ent: str, **fields: object) -> Cdr:
        return Cdr(make_cdr_id(kind, key), kind, when, ent, **fields)  # type: ignore[arg-type]

    return [
        cdr(
            CdrKind.SMS,
            "outbox/1",
            at(3),
            "ENT001",
            member_id="M001",
            msisdn="13800000001",
            detail="BILL",
            quantity=2,
        ),
        cdr(
            CdrKind.SMS,
            "outbox/2",
            at(3, 11),
            "ENT001",
            member_id="M002",
            msisdn="13800000002",
            detail="NOTICE",
            quantity=1,
        ),
        *(
            cdr(
                CdrKind.SMS,
                f"outbox/s{i}",
                at(4, 12),
                "ENT001",
                member_id="M001",
                msisdn="13800000001",
                detail="SERVICE",
                quantity=1,
            )
            for i in range(5)
        ),
        cdr(
            CdrKind.OTA,
            "ota/1",
            at(15, 12),
            "ENT001",
            member_id="M002",
            iccid="89860000000000000022",
            detail="INSTALL",
        ),
        cdr(
            CdrKind.TOPUP,
            "topup/1",
            at(16),
            "ENT001",
            member_id="M002",
            iccid="89860000000000000022",
            detail="OTA",
            amount_fen=10_000,
        ),
        cdr(
            CdrKind.ONE_OFF,
            "order/9/1",
            at(1, 9),
            "ENT001",
            detail="DEVICE",
            amount_fen=150_000,
            reference="1/3",
        ),
        cdr(
            CdrKind.SMS,
            "outbox/3",
            at(7),
            "ENT002",
            member_id="S002",
            msisdn="13900000002",
            detail="BILL",
            quantity=3,
        ),
        cdr(
            CdrKind.TOPUP,
            "topup/2",
            at(8),
            "ENT002",
            member_id="S002",
            iccid="89860000000000000102",
            detail="TERMINAL",
            amount_fen=5_000,
        ),
        cdr(
            CdrKind.ADJUSTMENT,
            "adj/1",
            at(2),
            "ENT002",
            detail="SERVICE_FEE",
            amount_fen=-400,
            reference="2026-09/SERVICE_FEE",
        ),
    ]


def context(sequence: int = 1) -> FileContext:
    return FileContext("CMCC-GD", "GW01", PERIOD, sequence, OPENED, OPENED)
