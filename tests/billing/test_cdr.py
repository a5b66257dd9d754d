from __future__ import annotations

from datetime import UTC, datetime

import pytest

from billing.cdr import BILLABLE_KINDS, MEMBERSHIP_KINDS, Cdr, CdrKind, check_cdr, make_cdr_id
from billing.errors import BillingError, CdrError

WHEN = datetime(2026, 10, 3, tzinfo=UTC)


def test_the_same_event_always_gets_the_same_id() -> None:
    first = make_cdr_id(CdrKind.SMS, "outbox", 1234, 2)
    assert first == make_cdr_id(CdrKind.SMS, "outbox", "1234", "2")
    assert len(first) == 32 and int(first, 16) >= 0


def test_ids_differ_by_kind_and_by_part_boundaries() -> None:
    assert make_cdr_id(CdrKind.SMS, "a", "bc") != make_cdr_id(CdrKind.SMS, "ab", "c")
    assert make_cdr_id(CdrKind.SMS, "x") != make_cdr_id(CdrKind.OTA, "x")


def test_an_id_needs_a_source() -> None:
    with pytest.raises(CdrError):
        make_cdr_id(CdrKind.SMS)


def test_membership_kinds_are_not_billable() -> None:
    assert not MEMBERSHIP_KINDS & BILLABLE_KINDS
    assert CdrKind.MEMBER_MONTH in BILLABLE_KINDS


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"detail": "POSTCARD"}, "needs detail"),
        ({"detail": "BILL", "msisdn": "+8613800000000"}, "msisdn"),
        ({"detail": "BILL", "iccid": "8986" * 6}, "iccid"),
        ({"detail": "BILL", "quantity": -1}, "negative"),
        ({"detail": "BILL", "amount_fen": -5}, "adjustments"),
        ({"detail": "BILL", "enterprise_id": ""}, "required"),
        ({"detail": "BILL", "member_id": "成员"}, "ASCII"),
        ({"detail": "BILL", "occurred_at": datetime(2026, 10, 3)}, "time zone"),
    ],
)
def test_bad_records_are_refused_with_the_reason(fields: dict[str, object], message: str) -> None:
    values: dict[str, object] = {
        "cdr_id": "x",
        "kind": CdrKind.SMS,
        "occurred_at": WHEN,
        "enterprise_id": "E1",
    }
    values.update(fields)
    with pytest.raises(BillingError, match=message) as info:
        check_cdr(Cdr(**values))  # type: ignore[arg-type]
    assert info.value.http_status == 422


def test_membership_events_need_a_member() -> None:
    with pytest.raises(CdrError, match="member_id"):
        check_cdr(Cdr("x", CdrKind.SERVICE_START, WHEN, "E1"))


def test_kind_must_be_the_enum() -> None:
    with pytest.raises(CdrError, match="CdrKind"):
        check_cdr(Cdr("x", 2, WHEN, "E1"))  # type: ignore[arg-type]


def test_only_adjustments_may_be_negative() -> None:
    record = check_cdr(Cdr("x", CdrKind.ADJUSTMENT, WHEN, "E1", detail="SMS_BILL", amount_fen=-3))
    assert record.amount_fen == -3
