"""Attendance (考勤): an enterprise's shift rules, and a member's summary over a bill period.

Every attendance record is one punch (打卡). Punches are grouped into *attendance days*: a
punch before ``day_cutoff`` (04:00 by default) belongs to the day before, so a night shift
ending at 06:00 is one day, not two. On a working day the first punch is the arrival and the
last the departure:

- late (迟到): arrival after shift start + ``late_grace_min``;
- early leave (早退): departure before shift end - ``early_grace_min``;
- a lone punch is a missed punch (缺卡): before the middle of the shift it is taken as the
  arrival (judged for lateness), after it as the departure (judged for leaving early);
- absent (缺勤): a working day with no punch at all.

Days that are over count, and a day still running counts only once attended (a bill for the
running month does not call today an absence, nor leaving early, before the day is over);
none before the member joined. Working days are ``workdays`` (ISO weekdays, Monday = 1)
minus ``holidays`` plus ``extra_workdays`` (调休: weekend days worked in exchange for a
holiday). Punches on other days count as rest days worked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from gateway.bills.errors import ShiftRulesInvalid
from gateway.bills.period import BillPeriod
from gateway.notices import CHINA

_MAX_DATES = 400  # holidays / extra workdays listed in the rules


def _hhmm(value: Any, name: str) -> time:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise ShiftRulesInvalid(name, "expected HH:MM")
    try:
        return time(int(value[:2]), int(value[3:]))
    except ValueError as exc:
        raise ShiftRulesInvalid(name, f"{value!r} is not a time of day") from exc


def _minutes(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 240:
        raise ShiftRulesInvalid(name, "minutes, 0 to 240")
    return value


def _dates(value: Any, name: str) -> frozenset[date]:
    if not isinstance(value, list) or len(value) > _MAX_DATES:
        raise ShiftRulesInvalid(name, f"a list of at most {_MAX_DATES} dates YYYY-MM-DD")
    try:
        return frozenset(date.fromisoformat(str(v)) for v in value)
    except ValueError as exc:
        raise ShiftRulesInvalid(name, str(exc)) from exc


@dataclass(frozen=True, slots=True)
class ShiftRules:
    work_start: time = time(9, 0)
    work_end: time = time(18, 0)  # at or before work_start: the shift ends the next day
    late_grace_min: int = 5
    early_grace_min: int = 0
    workdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    holidays: frozenset[date] = field(default_factory=frozenset)
    extra_workdays: frozenset[date] = field(default_factory=frozenset)
    day_cutoff: time = time(4, 0)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShiftRules:
        known = {"work_start", "work_end", "late_grace_min", "early_grace_min", "workdays",
                 "holidays", "extra_workdays", "day_cutoff"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ShiftRulesInvalid(unknown[0], "unknown rule")
        d = cls()
        workdays = data.get("workdays", sorted(d.workdays))
        if (not isinstance(workdays, list) or not workdays
                or not all(isinstance(w, int) and 1 <= w <= 7 for w in workdays)):
            raise ShiftRulesInvalid("workdays", "a non-empty list of ISO weekdays 1 (Mon)-7")
        rules = cls(
            work_start=_hhmm(data.get("work_start", "09:00"), "work_start"),
            work_end=_hhmm(data.get("work_end", "18:00"), "work_end"),
            late_grace_min=_minutes(data.get("late_grace_min", d.late_grace_min),
                                    "late_grace_min"),
            early_grace_min=_minutes(data.get("early_grace_min", d.early_grace_min),
                                     "early_grace_min"),
            workdays=frozenset(workdays),
            holidays=_dates(data.get("holidays", []), "holidays"),
            extra_workdays=_dates(data.get("extra_workdays", []), "extra_workdays"),
            day_cutoff=_hhmm(data.get("day_cutoff", "04:00"), "day_cutoff"),
        )
        if rules.work_start == rules.work_end:
            raise ShiftRulesInvalid("work_end", "a shift cannot end when it starts")
        return rules

    def to_dict(self) -> dict[str, Any]:
        return {
            "work_start": self.work_start.strftime("%H:%M"),
            "work_end": self.work_end.strftime("%H:%M"),
            "late_grace_min": self.late_grace_min,
            "early_grace_min": self.early_grace_min,
            "workdays": sorted(self.workdays),
            "holidays": sorted(d.isoformat() for d in self.holidays),
            "extra_workdays": sorted(d.isoformat() for d in self.extra_workdays),
            "day_cutoff": self.day_cutoff.strftime("%H:%M"),
        }

    def is_workday(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        return day.isoweekday() in self.workdays and day not in self.holidays

    def shift(self, day: date) -> tuple[datetime, datetime]:
        """Start and end instants of the shift of attendance day ``day``."""
        start = datetime.combine(day, self.work_start, CHINA)
        end = datetime.combine(day, self.work_end, CHINA)
        return start, end if end > start else end + timedelta(days=1)

    def day_of(self, punch: datetime) -> date:
        local = punch.astimezone(CHINA)
        day = local.date()
        return day - timedelta(days=1) if local.time() < self.day_cutoff else day

    def day_over(self, day: date, now: datetime) -> bool:
        """Is attendance day ``day`` over at ``now`` (its next cutoff has passed)?"""
        return datetime.combine(day + timedelta(days=1), self.day_cutoff, CHINA) <= now


@dataclass(frozen=True, slots=True)
class AttendanceSummary:
    workdays: int  # working days that count: over, and on or after the member joined
    present: int
    late: int
    early_leave: int
    absent: int
    missed_punch: int
    rest_days_worked: int
    late_minutes: int

    def to_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


# A day's punches as a bill needs them: (first, last, how many), in POSIX seconds. The
# database aggregates them per member and attendance day (``gateway.bills.store``), so a run
# reads one row per member and day instead of one per punch.
DayPunches = tuple[float, float, int]
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class DaySlot:
    """One attendance day of the period, in POSIX seconds: its shift and its thresholds."""

    day: date
    number: int  # days since 1970-01-01: what ``Calendar.day_number`` gives its punches
    workday: bool
    over: bool  # False: the day is still running (a bill of the current period)
    start: float
    late_after: float  # arriving later is late
    middle: float  # a lone punch before it is an arrival, after it a departure
    early_before: float  # leaving earlier is leaving early


class Calendar:
    """The period's attendance days that are over at ``now``, worked out once per bill run
    (100,000 members share it) and applied to each member's punches."""

    def __init__(self, period: BillPeriod, rules: ShiftRules, now: datetime) -> None:
        self.period = period
        self.rules = rules
        # A punch's attendance day: local time (UTC+8) less the cutoff, as a day number.
        cutoff = rules.day_cutoff.hour * 3600 + rules.day_cutoff.minute * 60
        self.offset = 8 * 3600 - cutoff
        self.slots = tuple(self._slot(day, rules.day_over(day, now)) for day in period.days()
                           if datetime.combine(day, rules.day_cutoff, CHINA) <= now)

    def _slot(self, day: date, over: bool) -> DaySlot:
        start, end = (t.timestamp() for t in self.rules.shift(day))
        return DaySlot(day, (day - _EPOCH).days, self.rules.is_workday(day), over, start,
                       start + 60 * self.rules.late_grace_min, (start + end) / 2,
                       end - 60 * self.rules.early_grace_min)

    def day_number(self, posix: float) -> int:
        return int((posix + self.offset) // 86400)

    def days_of(self, punches: Iterable[datetime]) -> dict[int, DayPunches]:
        """Punches aggregated per attendance day, as the database does it."""
        out: dict[int, DayPunches] = {}
        for punch in punches:
            at = punch.timestamp()
            number = self.day_number(at)
            first, last, count = out.get(number, (at, at, 0))
            out[number] = (min(first, at), max(last, at), count + 1)
        return out

    def summarise(self, punches: Iterable[datetime], *, joined: date | None) -> AttendanceSummary:
        """One member's summary. ``punches`` may reach past the period: each is attributed to
        its attendance day and only the period's days are kept."""
        return self.summarise_days(self.days_of(punches), joined=joined)

    def summarise_days(self, days: Mapping[int, DayPunches], *,
                       joined: date | None) -> AttendanceSummary:
        counted = present = late = early = missed = rest = late_minutes = 0
        for slot in self.slots:
            if joined is not None and slot.day < joined:
                continue
            punches = days.get(slot.number)
            if not slot.over and punches is None:
                continue  # today, not (yet) attended: neither present nor absent
            if not slot.workday:
                rest += punches is not None
                continue
            counted += 1
            if punches is None:
                continue
            present += 1
            minutes, left_early, missed_one = _judge(slot, *punches)
            if not slot.over:  # the departure may still come
                left_early = missed_one = False
            late += minutes > 0
            late_minutes += minutes
            early += left_early
            missed += missed_one
        return AttendanceSummary(counted, present, late, early, counted - present, missed,
                                 rest, late_minutes)


def summarise(punches: Iterable[datetime], period: BillPeriod, rules: ShiftRules, *,
              joined: date | None, now: datetime) -> AttendanceSummary:
    """One member's summary over ``period`` as of ``now`` (see :class:`Calendar`)."""
    return Calendar(period, rules, now).summarise(punches, joined=joined)


def _judge(slot: DaySlot, first: float, last: float, count: int) -> tuple[int, bool, bool]:
    """(minutes late, left early, missed a punch) for one working day with punches."""
    if count == 1:
        if first <= slot.middle:
            return _late_minutes(first, slot), False, True
        return 0, first < slot.early_before, True
    return _late_minutes(first, slot), last < slot.early_before, False


def _late_minutes(arrival: float, slot: DaySlot) -> int:
    if arrival <= slot.late_after:
        return 0
    return max(1, int((arrival - slot.start) // 60))
