"""The sans-I/O core of bills: periods, attendance against shift rules, consumption, templates
and segment counts, MO keywords, quiet hours and send rates."""

from __future__ import annotations

import ast
import pathlib
from datetime import UTC, date, datetime, time, timedelta

import pytest

from gateway.bills import attendance, consumption, context, keywords
from gateway.bills.attendance import Calendar, ShiftRules
from gateway.bills.consumption import Movement
from gateway.bills.errors import PeriodInvalid, ShiftRulesInvalid, TemplateInvalid, TooManySegments
from gateway.bills.period import BillPeriod, Granularity
from gateway.bills.policy import QuietHours, QuietHoursInvalid, RateBuckets, not_before
from gateway.bills.render import Compiled, TemplateKind, TextPolicy, default_source, measure
from gateway.domain import RecordKind
from gateway.notices import CHINA
from smpp.text import split_text

SANS_IO = ["period", "attendance", "consumption", "render", "context", "csvnotice", "keywords",
           "policy", "errors"]
FORBIDDEN = {"asyncio", "aiohttp", "sqlalchemy", "socket"}


def cn(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CHINA)


@pytest.mark.parametrize("name", SANS_IO)
def test_core_modules_are_sans_io(name: str) -> None:
    path = pathlib.Path(__file__).parents[2] / "gateway" / "bills" / f"{name}.py"
    tree = ast.parse(path.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert not imported & FORBIDDEN, imported & FORBIDDEN


# --- periods -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "granularity", "first", "last", "display"), [
    ("2026-10", Granularity.MONTH, date(2026, 10, 1), date(2026, 10, 31), "2026年10月"),
    ("2026-02", Granularity.MONTH, date(2026, 2, 1), date(2026, 2, 28), "2026年2月"),
    ("2026-12", Granularity.MONTH, date(2026, 12, 1), date(2026, 12, 31), "2026年12月"),
    ("2026-W44", Granularity.WEEK, date(2026, 10, 26), date(2026, 11, 1), "10月26日至11月1日"),
    ("2026-W01", Granularity.WEEK, date(2025, 12, 29), date(2026, 1, 4), "12月29日至1月4日"),
    ("2026-10-31", Granularity.DAY, date(2026, 10, 31), date(2026, 10, 31), "2026年10月31日"),
])
def test_periods(text: str, granularity: Granularity, first: date, last: date,
                 display: str) -> None:
    period = BillPeriod.parse(text)
    assert (period.granularity, period.first, period.last) == (granularity, first, last)
    assert period.label == text and period.display == display
    assert BillPeriod.parse(period.label) == period
    assert period.start == cn(first.year, first.month, first.day)
    assert period.end - period.start == timedelta(days=len(period.days()))


@pytest.mark.parametrize("text", ["2026-13", "2026-W54", "2026-02-30", "26-10", "2026/10", "",
                                  "2026-W00", "2026-1"])
def test_bad_periods_are_refused_clearly(text: str) -> None:
    with pytest.raises(PeriodInvalid) as caught:
        BillPeriod.parse(text)
    assert caught.value.code == "period_invalid" and caught.value.http_status == 422


def test_last_complete_period_is_in_china_time() -> None:
    # 2026-11-01 00:30 in China is still 31 October in UTC.
    now = cn(2026, 11, 1, 0, 30).astimezone(UTC)
    assert BillPeriod.last_complete(Granularity.MONTH, now).label == "2026-10"
    assert BillPeriod.last_complete(Granularity.DAY, now).label == "2026-10-31"
    assert BillPeriod.last_complete(Granularity.WEEK, now).label == "2026-W43"


# --- attendance ----------------------------------------------------------------------------

RULES = ShiftRules()  # 09:00-18:00, 5 minutes late grace, Monday-Friday


def summary(punches: list[datetime], period: str = "2026-W44",
            rules: ShiftRules = RULES, joined: date | None = None,
            now: datetime | None = None) -> attendance.AttendanceSummary:
    return attendance.summarise(punches, BillPeriod.parse(period), rules, joined=joined,
                                now=now or cn(2026, 12, 1))


def test_a_perfect_week() -> None:
    punches = [cn(2026, 10, d, 8, 55) for d in range(26, 31)]
    punches += [cn(2026, 10, d, 18, 2) for d in range(26, 31)]
    s = summary(punches)
    assert (s.workdays, s.present, s.late, s.early_leave, s.absent, s.missed_punch) == (
        5, 5, 0, 0, 0, 0)


def test_late_early_absent_missed_and_weekend() -> None:
    punches = [
        cn(2026, 10, 26, 9, 5), cn(2026, 10, 26, 18, 0),  # Mon: within the grace
        cn(2026, 10, 27, 9, 6), cn(2026, 10, 27, 18, 0),  # Tue: late (6 minutes)
        cn(2026, 10, 28, 8, 50), cn(2026, 10, 28, 17, 30),  # Wed: early leave
        cn(2026, 10, 29, 8, 50),  # Thu: one punch in the morning: missed the clock-out
        # Fri: absent
        cn(2026, 10, 31, 10, 0), cn(2026, 10, 31, 15, 0),  # Sat: a rest day worked
    ]
    s = summary(punches)
    assert s.workdays == 5 and s.present == 4 and s.absent == 1
    assert s.late == 1 and s.late_minutes == 6
    assert s.early_leave == 1 and s.missed_punch == 1 and s.rest_days_worked == 1


def test_a_lone_afternoon_punch_is_a_missed_clock_in_judged_for_leaving_early() -> None:
    s = summary([cn(2026, 10, 26, 16, 0)], period="2026-10-26")
    assert (s.present, s.missed_punch, s.early_leave, s.late) == (1, 1, 1, 0)


def test_night_shift_across_midnight_is_one_day() -> None:
    rules = ShiftRules.from_dict({"work_start": "22:00", "work_end": "06:00",
                                  "day_cutoff": "12:00", "workdays": [1, 2, 3, 4, 5, 6, 7]})
    punches = [cn(2026, 10, 26, 21, 58), cn(2026, 10, 27, 6, 1)]
    s = summary(punches, period="2026-10-26", rules=rules)
    assert (s.workdays, s.present, s.late, s.early_leave, s.missed_punch) == (1, 1, 0, 0, 0)
    early = summary([cn(2026, 10, 26, 22, 30), cn(2026, 10, 27, 5, 0)], period="2026-10-26",
                    rules=rules)
    assert (early.late, early.early_leave) == (1, 1)


def test_days_not_over_and_days_before_joining_do_not_count() -> None:
    s = summary([], period="2026-W44", now=cn(2026, 10, 28, 12, 0))
    assert s.workdays == 2 and s.absent == 2  # Monday and Tuesday only
    s = summary([], period="2026-W44", joined=date(2026, 10, 29))
    assert s.workdays == 2  # Thursday and Friday


def test_today_counts_once_attended_and_is_not_judged_for_leaving() -> None:
    now = cn(2026, 10, 28, 12, 0)  # Wednesday noon
    s = summary([cn(2026, 10, 28, 9, 10)], period="2026-W44", now=now)
    assert (s.workdays, s.present, s.absent, s.late) == (3, 1, 2, 1)
    assert (s.early_leave, s.missed_punch) == (0, 0)  # the departure may still come
    assert summary([], period="2026-10-29", now=now).workdays == 0  # tomorrow


def test_holidays_and_makeup_workdays() -> None:
    rules = ShiftRules.from_dict({"holidays": ["2026-10-01", "2026-10-02"],
                                  "extra_workdays": ["2026-10-10"]})
    s = summary([], period="2026-10", rules=rules)
    assert s.workdays == 22 - 2 + 1


def test_calendar_is_shared_by_members() -> None:
    calendar = Calendar(BillPeriod.parse("2026-10"), RULES, cn(2026, 12, 1))
    assert len(calendar.slots) == 31
    assert calendar.summarise([], joined=None).absent == 22


@pytest.mark.parametrize(("rules", "field"), [
    ({"work_start": "9:00"}, "work_start"), ({"work_end": "25:00"}, "work_end"),
    ({"late_grace_min": -1}, "late_grace_min"), ({"workdays": []}, "workdays"),
    ({"workdays": [0]}, "workdays"), ({"holidays": ["2026-13-01"]}, "holidays"),
    ({"shift": "x"}, "shift"), ({"work_start": "09:00", "work_end": "09:00"}, "work_end"),
])
def test_bad_shift_rules_name_the_field(rules: dict[str, object], field: str) -> None:
    with pytest.raises(ShiftRulesInvalid) as caught:
        ShiftRules.from_dict(rules)
    assert caught.value.extra["field"] == f"shift_rules.{field}"


def test_shift_rules_round_trip() -> None:
    rules = ShiftRules.from_dict({"work_start": "08:30", "holidays": ["2026-10-01"]})
    assert ShiftRules.from_dict(rules.to_dict()) == rules
    assert rules.work_start == time(8, 30)


# --- consumption ---------------------------------------------------------------------------


def test_consumption_counts_applied_purchases_not_undone_ones() -> None:
    moves = [Movement(RecordKind.PURCHASE, 1, 1, 1200), Movement(RecordKind.PURCHASE, 1, 2, 800),
             Movement(RecordKind.PURCHASE, 2, 1, 1500), Movement(RecordKind.TOPUP, 3, 1, 10000)]
    undos = [Movement(RecordKind.UNDO, 1, 3, 0, undo_seq=2),
             Movement(RecordKind.UNDO, 2, 9, 0, undo_seq=5)]  # a purchase of an earlier month
    s = consumption.summarise(moves, undos, 7500)
    assert (s.purchases, s.spent_fen, s.largest_fen) == (2, 2700, 1500)
    assert (s.topups, s.topped_up_fen, s.balance_fen) == (1, 10000, 7500)


# --- templates -----------------------------------------------------------------------------

POLICY = TextPolicy("一卡通", "回TD退订", 3)


def test_default_templates_render_signature_and_opt_out() -> None:
    for kind in TemplateKind:
        template = Compiled(kind, default_source(kind), POLICY)
        measured = template.measure(context.sample(kind, "示范企业", "DEMO"))
        assert measured.text.startswith("【一卡通】") and measured.text.endswith("回TD退订")
        assert measured.coding == "ucs2"
        assert measured.segments == len(split_text(measured.text, reference=1))


def test_attendance_bill_text() -> None:
    template = Compiled(TemplateKind.ATTENDANCE, default_source(TemplateKind.ATTENDANCE),
                        POLICY)
    text = template.text(context.sample(TemplateKind.ATTENDANCE, "示范企业", "DEMO"))
    assert text == ("【一卡通】欧阳晓明您好，2026年10月考勤：应出勤23天，实出勤21天，迟到12次，"
                    "早退10次，缺勤2天，缺卡3次。如有异议请联系考勤管理员。回TD退订")
    assert measure(text).segments == 2  # 76 UCS2 characters: 67 + 9


def test_a_template_over_the_limit_is_refused_with_the_count() -> None:
    long = "{{ member.name }}" + "很长的账单内容" * 40
    template = Compiled(TemplateKind.ATTENDANCE, long, POLICY)
    with pytest.raises(TooManySegments) as caught:
        template.measure(context.sample(TemplateKind.ATTENDANCE, "x", "X"))
    assert caught.value.segments == 5 and caught.value.limit == 3
    assert caught.value.extra["segments"] == 5 and caught.value.code == "too_many_segments"


@pytest.mark.parametrize(("source", "needle"), [
    ("{{ member.name ", "line 1"),
    ("{{ membre.name }}", "unknown variable"),
    ("{{ member.__class__.__mro__ }}", "not allowed"),
    ("{{ ''.__class__ }}", "not allowed"),
    ("{% for x in range(3) %}{{ x.__init__.__globals__ }}{% endfor %}", "not allowed"),
    ("{{ c.spent_fen|yuan }}{{ 'x'|yuan }}", "integer fen"),
    ("{{ 1 / 0 }}", "rendering failed"),
])
def test_bad_or_unsafe_templates_are_refused(source: str, needle: str) -> None:
    with pytest.raises(TemplateInvalid) as caught:
        Compiled(TemplateKind.CONSUMPTION, source, POLICY).text(
            context.sample(TemplateKind.CONSUMPTION, "x", "X"))
    assert needle in caught.value.detail


def test_templates_cannot_change_their_data() -> None:
    values = context.sample(TemplateKind.CONSUMPTION, "x", "X")
    source = "{{ c.update({'spent_fen': 0}) }}{{ c.spent_fen }}"
    with pytest.raises(TemplateInvalid):
        Compiled(TemplateKind.CONSUMPTION, source, POLICY).text(values)
    assert values["c"]["spent_fen"] == 123456


def test_a_template_may_place_the_opt_out_text_itself() -> None:
    template = Compiled(TemplateKind.GENERAL, "{{ opt_out }}：{{ content }}", POLICY)
    assert template.text({"content": "通知"}) == "【一卡通】回TD退订：通知"


def test_gsm7_text_counts_160_per_single_segment() -> None:
    template = Compiled(TemplateKind.GENERAL, "{{ content }}", TextPolicy("", "Reply TD", 1))
    measured = template.measure({"content": "x" * 150})
    assert measured.coding == "gsm7" and measured.segments == 1


# --- keywords ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "keyword"), [
    ("TD", keywords.Keyword.OPT_OUT), ("td", keywords.Keyword.OPT_OUT),
    (" Td。", keywords.Keyword.OPT_OUT), ("ＴＤ", keywords.Keyword.OPT_OUT),
    ("R", keywords.Keyword.OPT_OUT), ("ｒ", keywords.Keyword.OPT_OUT),
    ("退订", keywords.Keyword.OPT_OUT), ("拒收", keywords.Keyword.OPT_OUT),
    ("DY", keywords.Keyword.OPT_IN), ("ｄｙ", keywords.Keyword.OPT_IN),
    ("订阅", keywords.Keyword.OPT_IN), ("TD退订我", None), ("hello", None), ("", None),
    (None, None), ("T D", None), ("RR", None),
])
def test_keywords(text: str | None, keyword: keywords.Keyword | None) -> None:
    assert keywords.parse(text) is keyword


# --- quiet hours and rates -----------------------------------------------------------------


def test_quiet_hours_across_midnight() -> None:
    quiet = QuietHours.parse("22:00-08:00")
    assert quiet.contains(cn(2026, 10, 1, 23, 0)) and quiet.contains(cn(2026, 10, 2, 7, 59))
    assert not quiet.contains(cn(2026, 10, 2, 8, 0))
    assert quiet.release(cn(2026, 10, 1, 23, 0)) == cn(2026, 10, 2, 8, 0)
    assert quiet.release(cn(2026, 10, 2, 1, 0)) == cn(2026, 10, 2, 8, 0)
    noon = cn(2026, 10, 2, 12, 0)
    assert quiet.release(noon) == noon
    assert not_before(quiet, cn(2026, 10, 1, 23, 0), urgent=False) == cn(2026, 10, 2, 8, 0)
    assert not_before(quiet, cn(2026, 10, 1, 23, 0), urgent=True) is None
    assert not_before(quiet, noon, urgent=False) is None
    lunch = QuietHours.parse("12:00-13:30")
    assert lunch.contains(noon) and lunch.release(noon) == cn(2026, 10, 2, 13, 30)


@pytest.mark.parametrize("spec", ["22-08", "25:00-08:00", "08:00-08:00", "nonsense"])
def test_bad_quiet_hours(spec: str) -> None:
    with pytest.raises(QuietHoursInvalid):
        QuietHours.parse(spec)


def test_rate_buckets_spread_messages_at_the_rate() -> None:
    buckets = RateBuckets()
    now = cn(2026, 10, 1, 10, 0)
    slots = [buckets.slot(7, rate=10.0, burst=10.0, segments=2, now=now) for _ in range(10)]
    assert slots[:5] == [now] * 5  # the burst: 10 segments
    assert [(s - now).total_seconds() for s in slots[5:]] == pytest.approx(
        [0.2, 0.4, 0.6, 0.8, 1.0])
    later = now + timedelta(seconds=10)  # refilled
    assert buckets.slot(7, rate=10.0, burst=10.0, segments=2, now=later) == later
    assert buckets.slot(8, rate=1.0, burst=1.0, segments=1, now=now) == now  # own bucket
