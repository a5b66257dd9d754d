from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from billing.cdr import Cdr, CdrKind, make_cdr_id
from billing.errors import RatingError
from billing.period import Period
from billing.rating import (
    LineBook,
    Rater,
    adjustments,
    member_months,
    rate_lines,
)
from billing.tariffs import UNITS_PER_FEN, ChargeItem, Proration, Tariff
from tests.billing import sample

OCT = Period(2026, 10)
CST = timezone(timedelta(hours=8))


def event(kind: CdrKind, when: datetime, member: str = "M1", iccid: str = "8986001") -> Cdr:
    return Cdr(
        make_cdr_id(kind, member, when.isoformat()), kind, when, "E1", member, "1380000", iccid
    )


def days(*events: Cdr, period: Period = OCT) -> dict[str, int]:
    return {m.member_id: m.quantity for m in member_months(events, period)}


def local(day: int, hour: int = 12, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CST)


# ----------------------------------------------------------------------------- proration


def test_member_in_service_all_month() -> None:
    assert days(event(CdrKind.SERVICE_START, local(20, month=6))) == {"M1": 31}


def test_joined_mid_month_counts_the_joining_day() -> None:
    assert days(event(CdrKind.SERVICE_START, local(15, 23))) == {"M1": 17}


def test_deregistered_mid_month_counts_the_last_day() -> None:
    start, end = CdrKind.SERVICE_START, CdrKind.SERVICE_END
    assert days(event(start, local(1, month=1)), event(end, local(10, 9))) == {"M1": 10}


def test_deregistered_at_local_midnight_does_not_count_that_day() -> None:
    start, end = CdrKind.SERVICE_START, CdrKind.SERVICE_END
    assert days(event(start, local(1, month=1)), event(end, local(10, 0))) == {"M1": 9}


def test_joined_and_left_in_the_same_day_is_one_day() -> None:
    start, end = CdrKind.SERVICE_START, CdrKind.SERVICE_END
    assert days(event(start, local(7, 9)), event(end, local(7, 17))) == {"M1": 1}


def test_days_are_local_days_not_utc_days() -> None:
    # 2026-10-31T17:00Z is 1 November 01:00 in Beijing: no October day at all.
    joined = event(CdrKind.SERVICE_START, datetime(2026, 10, 31, 17, tzinfo=UTC))
    assert days(joined) == {}
    assert days(joined, period=Period(2026, 11)) == {"M1": 30}


def test_replaced_card_keeps_one_member_month_on_the_new_card() -> None:
    records = member_months(
        [
            event(CdrKind.SERVICE_START, local(1, month=5), iccid="1111"),
            event(CdrKind.CARD_REPLACED, local(12), iccid="2222"),
        ],
        OCT,
    )
    assert [(r.member_id, r.quantity, r.iccid) for r in records] == [("M1", 31, "2222")]


def test_card_swap_written_as_end_and_start_at_one_instant_keeps_service() -> None:
    swap = local(12)
    records = [
        event(CdrKind.SERVICE_START, local(1, month=5)),
        event(CdrKind.SERVICE_START, swap, iccid="2222"),
        event(CdrKind.SERVICE_END, swap),
    ]
    assert days(*records) == {"M1": 31}


def test_leaving_and_rejoining_counts_each_day_once() -> None:
    start, end = CdrKind.SERVICE_START, CdrKind.SERVICE_END
    records = [event(start, local(3)), event(end, local(5)), event(start, local(5, 18))]
    records += [event(end, local(6))]
    assert days(*records) == {"M1": 4}  # 3, 4, 5, 6


def test_duplicated_events_do_not_open_a_second_member_month() -> None:
    start = event(CdrKind.SERVICE_START, local(1, month=5))
    again = event(CdrKind.SERVICE_START, local(9, month=7))
    assert days(start, again, start) == {"M1": 31}


def test_events_after_the_month_are_ignored() -> None:
    start, end = CdrKind.SERVICE_START, CdrKind.SERVICE_END
    assert days(event(start, local(1, month=5)), event(end, local(3, month=11))) == {"M1": 31}
    assert days(event(start, local(3, month=11))) == {}


def test_member_month_ids_are_stable_per_member_and_month() -> None:
    a = member_months([event(CdrKind.SERVICE_START, local(1, month=5))], OCT)
    b = member_months([event(CdrKind.SERVICE_START, local(2, month=5))], OCT)
    assert a[0].cdr_id == b[0].cdr_id
    assert a[0].occurred_at == OCT.start()


# ----------------------------------------------------------------------------- pricing


def rater(**prices: object) -> Rater:
    fee = prices.pop("fee", "500")
    return Rater(OCT, {"E1": Tariff(Period(2026, 1), Decimal(str(fee)), **prices)})  # type: ignore[arg-type]


def usage(kind: CdrKind, n: int = 1, **fields: object) -> list[Cdr]:
    return [
        Cdr(make_cdr_id(kind, "u", i), kind, local(3), "E1", **fields)  # type: ignore[arg-type]
        for i in range(n)
    ]


def test_prorated_fee_is_exact_and_rounded_once_per_line() -> None:
    months = member_months(
        [event(CdrKind.SERVICE_START, local(22), member=f"M{i}") for i in range(3)], OCT
    )
    (line,) = rate_lines(rater(), months)
    # 3 x 500 x 10/31 = 483.87 fen: rounding each record (161 fen) would give 483.
    assert line.units == 3 * 500 * 10 * UNITS_PER_FEN // 31
    assert line.amount_fen == 484


def test_fractional_sms_price_is_summed_before_rounding() -> None:
    (line,) = rate_lines(
        rater(sms_service=Decimal("0.3")), usage(CdrKind.SMS, 10, detail="SERVICE")
    )
    assert (line.item, line.records, line.amount_fen) == (ChargeItem.SMS_SERVICE, 10, 3)


def test_full_month_proration_charges_the_whole_fee() -> None:
    months = member_months([event(CdrKind.SERVICE_START, local(30))], OCT)
    (rated,) = rater(proration=Proration.FULL_MONTH).rate_all(months)
    assert (rated.quantity, rated.quantity_base, rated.units) == (2, 2, 500 * UNITS_PER_FEN)


def test_topups_cost_nothing_unless_the_plan_says_so() -> None:
    records = usage(CdrKind.TOPUP, 2, detail="OTA", amount_fen=10_000)
    (free,) = rate_lines(rater(), records)
    assert (free.amount_fen, free.value_fen) == (0, 20_000)
    (paid,) = rate_lines(rater(topup_fee=Decimal(20), topup_percent=Decimal("0.5")), records)
    assert paid.amount_fen == 2 * 20 + 2 * 50


def test_sms_kinds_are_separate_lines_with_their_own_price() -> None:
    records = usage(CdrKind.SMS, 2, detail="BILL", quantity=3) + usage(
        CdrKind.SMS, 1, detail="NOTICE"
    )
    lines = rate_lines(rater(sms_bill=Decimal("4.5"), sms_notice=Decimal(5)), records)
    assert [(ln.item, ln.quantity, ln.amount_fen) for ln in lines] == [
        (ChargeItem.SMS_BILL, 6, 27),
        (ChargeItem.SMS_NOTICE, 1, 5),
    ]


def test_one_off_and_adjustment_carry_their_amount() -> None:
    records = usage(CdrKind.ONE_OFF, 1, detail="INTEGRATION", amount_fen=80_000)
    records += usage(CdrKind.ADJUSTMENT, 1, detail="OTA", amount_fen=-30, reference="2026-09/OTA")
    lines = rate_lines(rater(), records)
    assert [(ln.item, ln.reference, ln.amount_fen) for ln in lines] == [
        (ChargeItem.INTEGRATION, "", 80_000),
        (ChargeItem.ADJUSTMENT, "2026-09/OTA", -30),
    ]


def test_rating_refuses_unknown_enterprises_and_membership_events() -> None:
    with pytest.raises(RatingError, match="no fee plan"):
        Rater(OCT, {}).rate(usage(CdrKind.SMS, detail="BILL")[0])
    with pytest.raises(RatingError, match="not billable"):
        rater().rate(event(CdrKind.SERVICE_START, local(1)))
    with pytest.raises(RatingError, match="charge item"):
        rater().rate(usage(CdrKind.ADJUSTMENT, detail="FREE_LUNCH", amount_fen=-1)[0])


def test_a_member_month_longer_than_the_month_is_refused() -> None:
    bad = Cdr("x", CdrKind.MEMBER_MONTH, local(1), "E1", "M1", quantity=32)
    with pytest.raises(RatingError, match="32 days"):
        rater().rate(bad)


def test_re_rating_a_past_month_uses_that_months_tariff() -> None:
    sept = Period(2026, 9)
    september_price = sample.STANDARD.tariff_for(sept)
    october_price = sample.STANDARD.tariff_for(OCT)
    assert september_price.service_fee == 500 and october_price.service_fee == 500
    assert sample.STANDARD.tariff_for(Period(2026, 8)).service_fee == 300


def test_line_book_orders_lines_stably() -> None:
    book = LineBook(OCT)
    r = rater(sms_bill=Decimal(1), ota=Decimal(1))
    for record in usage(CdrKind.OTA, 1, detail="CREDIT") + usage(CdrKind.SMS, 1, detail="BILL"):
        book.add(r.rate(record))
    assert [ln.item for ln in book.lines()] == [ChargeItem.SMS_BILL, ChargeItem.OTA]


# ----------------------------------------------------------------------------- adjustments


def test_adjustments_bill_the_difference_only_once() -> None:
    r = rater(sms_bill=Decimal(5))
    rerated = rate_lines(r, usage(CdrKind.SMS, 3, detail="BILL"))  # now 15 fen
    billed = {("E1", ChargeItem.SMS_BILL): 10, ("E1", ChargeItem.OTA): 7}
    first = adjustments(OCT, rerated, billed, local(2, month=11))
    assert [(a.detail, a.amount_fen, a.reference) for a in first] == [
        ("SMS_BILL", 5, "2026-10/SMS_BILL"),
        ("OTA", -7, "2026-10/OTA"),
    ]
    # Run again before the first run's records were stored: the same ids, nothing new.
    again = adjustments(OCT, rerated, billed, local(3, month=11))
    assert [a.cdr_id for a in again] == [a.cdr_id for a in first]
    # Once stored, what was billed includes them: nothing left to adjust.
    billed_now = {("E1", ChargeItem.SMS_BILL): 15, ("E1", ChargeItem.OTA): 0}
    assert adjustments(OCT, rerated, billed_now, local(4, month=11)) == []


def test_adjustment_lines_are_never_re_rated() -> None:
    rerated = rate_lines(rater(), usage(CdrKind.ADJUSTMENT, 1, detail="OTA", amount_fen=-3))
    assert adjustments(OCT, rerated, {}, local(2, month=11)) == []


def test_unknown_details_are_rating_errors() -> None:
    bad = Cdr("x", CdrKind.SMS, local(3), "E1", detail="TELEGRAM")
    with pytest.raises(RatingError, match="unknown detail 'TELEGRAM'"):
        rater().rate(bad)
