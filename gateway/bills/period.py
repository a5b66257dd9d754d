"""Bill periods: a day, an ISO week or a month, in China time (UTC+8, no daylight saving).

Written as ``2026-10-31`` (day), ``2026-W44`` (ISO 8601 week, Monday first) or ``2026-10``
(month). A period is a half-open span of local days ``[first, last + 1 day)``; its instants
are China midnights, so a punch at 23:59 on the 31st belongs to October whatever the server's
time zone is.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from gateway.bills.errors import PeriodInvalid
from gateway.notices import CHINA

_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_WEEK = re.compile(r"(\d{4})-W(\d{2})")
_MONTH = re.compile(r"(\d{4})-(\d{2})")


class Granularity(enum.StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class BillPeriod:
    granularity: Granularity
    first: date
    last: date  # inclusive

    @classmethod
    def parse(cls, text: str) -> BillPeriod:
        value = text.strip()
        try:
            if m := _DAY.fullmatch(value):
                day = date(int(m[1]), int(m[2]), int(m[3]))
                return cls(Granularity.DAY, day, day)
            if m := _WEEK.fullmatch(value):
                monday = date.fromisocalendar(int(m[1]), int(m[2]), 1)
                return cls(Granularity.WEEK, monday, monday + timedelta(days=6))
            if m := _MONTH.fullmatch(value):
                return cls.month(int(m[1]), int(m[2]))
        except ValueError as exc:
            raise PeriodInvalid(text, str(exc)) from exc
        raise PeriodInvalid(text, "expected YYYY-MM-DD (day), YYYY-Www (ISO week) or YYYY-MM")

    @classmethod
    def month(cls, year: int, month: int) -> BillPeriod:
        first = date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
        return cls(Granularity.MONTH, first, following - timedelta(days=1))

    @classmethod
    def containing(cls, granularity: Granularity, day: date) -> BillPeriod:
        if granularity is Granularity.DAY:
            return cls(granularity, day, day)
        if granularity is Granularity.WEEK:
            monday = day - timedelta(days=day.weekday())
            return cls(granularity, monday, monday + timedelta(days=6))
        return cls.month(day.year, day.month)

    @classmethod
    def last_complete(cls, granularity: Granularity, now: datetime) -> BillPeriod:
        """The newest period of ``granularity`` that ended before ``now`` (China time)."""
        today = now.astimezone(CHINA).date()
        return cls.containing(granularity, today).previous()

    def previous(self) -> BillPeriod:
        return BillPeriod.containing(self.granularity, self.first - timedelta(days=1))

    @property
    def label(self) -> str:
        """The canonical text, as ``parse`` reads it."""
        if self.granularity is Granularity.DAY:
            return self.first.isoformat()
        if self.granularity is Granularity.WEEK:
            year, week, _ = self.first.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.first.year}-{self.first.month:02d}"

    @property
    def display(self) -> str:
        """How members read it in a bill."""
        f, last = self.first, self.last
        if self.granularity is Granularity.DAY:
            return f"{f.year}年{f.month}月{f.day}日"
        if self.granularity is Granularity.WEEK:
            return f"{f.month}月{f.day}日至{last.month}月{last.day}日"
        return f"{f.year}年{f.month}月"

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), CHINA)

    @property
    def end(self) -> datetime:
        """Exclusive: the China midnight after the last day."""
        return datetime.combine(self.last + timedelta(days=1), time(), CHINA)

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def __str__(self) -> str:
        return self.label
