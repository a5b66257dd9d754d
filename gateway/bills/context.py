"""The variables each kind of template sees (``docs/bills.md`` lists them), built from plain
values; and sample values, for previews and for checking a template's length before any member
is billed with it.

Every kind sees ``enterprise`` (name, code), ``member`` (name, employee_no, department) and
``opt_out``. Bills add ``period`` (label, display, first, last) and their summary: ``a``
(attendance, with ``shift``) or ``c`` (consumption). Notices add ``title`` and their columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.bills.attendance import AttendanceSummary, ShiftRules
from gateway.bills.consumption import ConsumptionSummary
from gateway.bills.period import BillPeriod, Granularity
from gateway.bills.render import TemplateKind

Context = dict[str, Any]


def member_view(name: str, employee_no: str | None, department: str | None) -> dict[str, str]:
    return {"name": name, "employee_no": employee_no or "", "department": department or ""}


def period_view(period: BillPeriod) -> dict[str, str]:
    return {"label": period.label, "display": period.display,
            "first": period.first.isoformat(), "last": period.last.isoformat()}


def shift_view(rules: ShiftRules) -> dict[str, str]:
    return {"start": rules.work_start.strftime("%H:%M"), "end": rules.work_end.strftime("%H:%M")}


def attendance(base: Mapping[str, Any], summary: AttendanceSummary,
               shift: Mapping[str, str]) -> Context:
    return {**base, "a": summary.to_dict(), "shift": shift}


def consumption(base: Mapping[str, Any], summary: ConsumptionSummary) -> Context:
    return {**base, "c": summary.to_dict()}


def base(enterprise_name: str, enterprise_code: str, member: Mapping[str, str],
         period: Mapping[str, str] | None = None) -> Context:
    values: Context = {"enterprise": {"name": enterprise_name, "code": enterprise_code},
                       "member": dict(member)}
    if period is not None:
        values["period"] = dict(period)
    return values


# --- samples: plausible but long values, so that a template that fits them fits real bills --

SAMPLE_MEMBER = member_view("欧阳晓明", "E000123", "生产三车间")
SAMPLE_PERIOD = BillPeriod.parse("2026-10")
SAMPLE_ATTENDANCE = AttendanceSummary(workdays=23, present=21, late=12, early_leave=10,
                                      absent=2, missed_punch=3, rest_days_worked=2,
                                      late_minutes=185)
SAMPLE_CONSUMPTION = ConsumptionSummary(purchases=68, spent_fen=123456, largest_fen=8800,
                                        topups=3, topped_up_fen=150000, balance_fen=98765)


def sample(kind: TemplateKind, enterprise_name: str, enterprise_code: str,
           granularity: Granularity = Granularity.MONTH) -> Context:
    period = SAMPLE_PERIOD if granularity is Granularity.MONTH else BillPeriod.containing(
        granularity, SAMPLE_PERIOD.last)
    common = base(enterprise_name, enterprise_code, SAMPLE_MEMBER, period_view(period))
    if kind is TemplateKind.ATTENDANCE:
        return attendance(common, SAMPLE_ATTENDANCE, shift_view(ShiftRules()))
    if kind is TemplateKind.CONSUMPTION:
        return consumption(common, SAMPLE_CONSUMPTION)
    notice = base(enterprise_name, enterprise_code, SAMPLE_MEMBER)
    notice["title"] = "10月"
    if kind is TemplateKind.PIECE_RATE:
        lines = [{"item": "装配A型", "quantity": "1200", "unit_price_fen": 85,
                  "amount_fen": 102000},
                 {"item": "包装", "quantity": "350.5", "unit_price_fen": 40, "amount_fen": 14020}]
        return {**notice, "lines": lines, "total_fen": 116020}
    if kind is TemplateKind.WAGES:
        return {**notice, "gross_fen": 865000, "deductions_fen": 123450, "net_fen": 741550,
                "note": "含高温补贴"}
    return {**notice, "content": "本周六上午9点在三号楼召开安全生产会议，请准时参加。"}
