from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.cdr import OtaOperation, SmsKind
from billing.errors import NoTariff, TariffError
from billing.period import Period
from billing.tariffs import (
    UNITS_PER_FEN,
    FeePlan,
    Proration,
    Tariff,
    format_e4,
    price_units,
    round_to_fen,
    units_to_e4,
)

JAN = Period(2026, 1)


def tariff(start: Period = JAN, fee: str = "500", **prices: object) -> Tariff:
    return Tariff(start, Decimal(fee), **prices)  # type: ignore[arg-type]


def test_prices_are_exact_to_four_decimals_of_a_fen() -> None:
    assert price_units("1") == UNITS_PER_FEN
    assert price_units(Decimal("0.0001")) * 10_000 == UNITS_PER_FEN
    with pytest.raises(TariffError, match="four decimals"):
        price_units("0.00001")
    with pytest.raises(TariffError, match="non-negative"):
        price_units("-1")
    with pytest.raises(TariffError, match="not a number"):
        price_units("cheap")


def test_rounding_is_half_away_from_zero() -> None:
    half = UNITS_PER_FEN // 2
    assert [round_to_fen(u) for u in (half - 1, half, -half, -half + 1)] == [0, 1, -1, 0]
    assert round_to_fen(3 * UNITS_PER_FEN + half) == 4


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_rounding_is_within_half_a_fen_and_symmetric(units: int) -> None:
    fen = round_to_fen(units)
    assert abs(fen * UNITS_PER_FEN - units) * 2 <= UNITS_PER_FEN
    assert round_to_fen(-units) == -fen


def test_e4_formatting() -> None:
    ten_of_31_days = price_units("500") * 10 // 31  # 161.290322... fen
    assert format_e4(units_to_e4(ten_of_31_days)) == "161.2903"
    assert format_e4(-5) == "-0.0005"


def test_service_fee_must_be_three_to_five_yuan() -> None:
    tariff(fee="300")
    tariff(fee="500")
    for fee in ("299", "500.01", "0"):
        with pytest.raises(TariffError, match="outside 300-500"):
            tariff(fee=fee)


def test_topup_percentage_has_two_decimals() -> None:
    assert tariff(topup_percent=Decimal("0.25")).units("topup_bp") == 25 * UNITS_PER_FEN // 10_000
    with pytest.raises(TariffError, match="topup_percent"):
        tariff(topup_percent=Decimal("0.125"))


def test_ota_overrides_fall_back_to_the_plain_ota_price() -> None:
    t = tariff(ota=Decimal(10), ota_overrides=((OtaOperation.INSTALL, Decimal(50)),))
    assert t.ota_units(OtaOperation.INSTALL) == 50 * UNITS_PER_FEN
    assert t.ota_units(OtaOperation.DELETE) == 10 * UNITS_PER_FEN
    assert t.sms_units(SmsKind.BILL) == 0


def test_history_keeps_each_months_price() -> None:
    plan = FeePlan("P", "plan", (tariff(Period(2026, 10), "500"), tariff(Period(2026, 1), "300")))
    assert plan.tariff_for(Period(2026, 9)).service_fee == 300
    assert plan.tariff_for(Period(2026, 10)).service_fee == 500
    assert plan.tariff_for(Period(2027, 5)).service_fee == 500
    with pytest.raises(NoTariff):
        plan.tariff_for(Period(2025, 12))


def test_with_tariff_replaces_the_same_month_only() -> None:
    plan = FeePlan("P", "plan", (tariff(Period(2026, 1), "300"),))
    plan = plan.with_tariff(tariff(Period(2026, 6), "400")).with_tariff(
        tariff(Period(2026, 1), "350")
    )
    assert [str(t.service_fee) for t in plan.tariffs] == ["350", "400"]


def test_a_plan_needs_distinct_tariffs() -> None:
    with pytest.raises(TariffError):
        FeePlan("P", "plan", ())
    with pytest.raises(TariffError, match="same month"):
        FeePlan("P", "plan", (tariff(), tariff()))


def test_tariffs_survive_their_json_form() -> None:
    t = Tariff(
        Period(2026, 9),
        Decimal("450"),
        Proration.FULL_MONTH,
        Decimal("4.5"),
        ota=Decimal(1),
        ota_overrides=((OtaOperation.CREDIT, Decimal("0.5")),),
        topup_percent=Decimal("1.5"),
    )
    assert Tariff.from_dict(t.to_dict()) == t
    with pytest.raises(TariffError, match="malformed"):
        Tariff.from_dict({"service_fee": "400"})
