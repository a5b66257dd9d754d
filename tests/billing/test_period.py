from __future__ import annotations

from datetime import UTC, datetime

import pytest

from billing.errors import PeriodError
from billing.period import Period, local_date


def test_parse_and_print() -> None:
    assert Period.parse("2026-10") == Period(2026, 10)
    assert str(Period(2026, 1)) == "2026-01"


@pytest.mark.parametrize("text", ["2026-13", "2026-0", "26-10", "2026/10", "", "2026-10-01"])
def test_bad_periods_are_refused(text: str) -> None:
    with pytest.raises(PeriodError):
        Period.parse(text)


def test_month_lengths() -> None:
    assert [Period(2028, m).days for m in (1, 2, 4)] == [31, 29, 30]
    assert Period(2026, 2).days == 28


def test_navigation() -> None:
    assert Period(2026, 12).next() == Period(2027, 1)
    assert Period(2027, 1).previous() == Period(2026, 12)
    assert Period(2026, 11).plus(14) == Period(2028, 1)
    assert Period(2026, 3).plus(-3) == Period(2025, 12)


def test_months_are_cut_in_china_standard_time() -> None:
    # 2026-10-31T20:00Z is 2026-11-01 04:00 in Beijing: November's.
    assert Period.of(datetime(2026, 10, 31, 20, tzinfo=UTC)) == Period(2026, 11)
    assert Period(2026, 11).start() == datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert Period(2026, 10).end() == Period(2026, 11).start()
    assert local_date(datetime(2026, 10, 31, 16, tzinfo=UTC)).day == 1


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(PeriodError, match="time zone"):
        Period.of(datetime(2026, 10, 1))
