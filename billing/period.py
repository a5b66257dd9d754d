"""Billing periods: calendar months in the billing time zone.

A period is a calendar month of local time (``BILLING_TZ``, China Standard Time, UTC+8 without
daylight saving), because the carrier bills per month of its own calendar: a message sent at
2026-10-31T20:00Z belongs to November.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

from billing.errors import PeriodError

#: The zone that cuts months and days for billing (中国标准时间).
BILLING_TZ: tzinfo = timezone(timedelta(hours=8), "CST")

_PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True, slots=True)
class Period:
    """One calendar month, written ``YYYY-MM``."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 2000 <= self.year <= 9999 or not 1 <= self.month <= 12:
            raise PeriodError(f"no such billing period: {self.year:04d}-{self.month:02d}")

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD_RE.match(text.strip())
        if match is None:
            raise PeriodError(f"a period is written YYYY-MM, got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, moment: datetime, tz: tzinfo = BILLING_TZ) -> Period:
        """The period an instant belongs to, in the billing time zone."""
        local = aware(moment).astimezone(tz)
        return cls(local.year, local.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, self.days)

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def start(self, tz: tzinfo = BILLING_TZ) -> datetime:
        """The first instant of the period (local midnight of day 1), as UTC."""
        return datetime(self.year, self.month, 1, tzinfo=tz).astimezone(UTC)

    def end(self, tz: tzinfo = BILLING_TZ) -> datetime:
        """The first instant after the period, as UTC (half-open ``[start, end)``)."""
        return self.next().start(tz)

    def plus(self, months: int) -> Period:
        index = self.year * 12 + self.month - 1 + months
        return Period(index // 12, index % 12 + 1)


def aware(moment: datetime) -> datetime:
    """Refuse naive datetimes: a naive time in a billing record is an ambiguity, not UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise PeriodError(f"timestamp without a time zone: {moment.isoformat()}")
    return moment


def local_date(moment: datetime, tz: tzinfo = BILLING_TZ) -> date:
    return aware(moment).astimezone(tz).date()
