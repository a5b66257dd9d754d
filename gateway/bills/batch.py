"""One batch of a bill run: read the members and their records, make each member's texts.

``Plan`` is what a run needs that does not change while it runs (compiled templates, the
attendance calendar, the enterprise's text policy); it is built once per claim. ``read``
gathers a batch's data in one read-only transaction; ``render`` is pure and makes one
``Item`` per member and kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bills import consumption, context, store
from gateway.bills.attendance import Calendar, DayPunches
from gateway.bills.config import EnterpriseConfig
from gateway.bills.consumption import Movement
from gateway.bills.errors import TooManySegments
from gateway.bills.period import BillPeriod
from gateway.bills.render import Compiled, TemplateKind
from gateway.db.models_bills import Outcome


@dataclass(frozen=True)
class Plan:
    run_id: int
    cfg: EnterpriseConfig
    period: BillPeriod
    kinds: tuple[TemplateKind, ...]
    as_of: datetime
    urgent: bool
    templates: Mapping[TemplateKind, Compiled]
    calendar: Calendar
    # Worked out once per run rather than once per member.
    batch_id: str = ""
    period_view: Mapping[str, str] = field(default_factory=dict)
    shift_view: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "batch_id", f"bill-run:{self.run_id}")
        object.__setattr__(self, "period_view", context.period_view(self.period))
        object.__setattr__(self, "shift_view", context.shift_view(self.cfg.rules))

    def dedupe_key(self, member_id: int, kind: TemplateKind) -> str:
        return f"bill:{self.run_id}:{member_id}:{kind.value}"


@dataclass
class Data:
    members: list[store.MemberRow]
    punches: dict[int, dict[int, DayPunches]] = field(default_factory=dict)
    moves: dict[int, list[Movement]] = field(default_factory=dict)
    undos: dict[int, list[Movement]] = field(default_factory=dict)
    balances: dict[int, int] = field(default_factory=dict)


class Item(NamedTuple):
    """One member's bill of one kind (a named tuple, as ``store.MemberRow``)."""

    member: store.MemberRow
    kind: TemplateKind
    outcome: Outcome
    text: str = ""
    segments: int = 0


@dataclass(frozen=True, slots=True)
class Prepared:
    """A batch read and rendered, ready to be written: how many members, the last one's id
    (the run's next cursor) and their items."""

    members: int
    last: int
    items: list[Item]


def prepared(data: Data, items: list[Item], cursor: int) -> Prepared:
    return Prepared(len(data.members), data.members[-1].id if data.members else cursor, items)


async def read(session: AsyncSession, plan: Plan, cursor: int, limit: int) -> Data:
    members = await store.members_after(session, plan.cfg.enterprise_id, cursor, plan.as_of,
                                        limit)
    return await gather(session, plan, members)


async def gather(session: AsyncSession, plan: Plan, members: list[store.MemberRow]) -> Data:
    data = Data(members)
    if all(m.opted_out for m in members):
        return data
    span = store.Span(plan.cfg.enterprise_id, members[0].id, members[-1].id)
    start, end = plan.period.start, plan.period.end
    if TemplateKind.ATTENDANCE in plan.kinds:
        data.punches = await store.punch_days(session, span, plan.calendar, plan.as_of)
    if TemplateKind.CONSUMPTION in plan.kinds:
        data.moves, data.undos = await store.movements(session, span, start, end, plan.as_of)
        data.balances = await store.balances(session, span)
    return data


def contexts(plan: Plan, data: Data, member: store.MemberRow,
             kind: TemplateKind) -> dict[str, object]:
    cfg = plan.cfg
    base = context.base(cfg.name, cfg.code,
                        context.member_view(member.name, member.employee_no, member.department),
                        plan.period_view)
    if kind is TemplateKind.ATTENDANCE:
        summary = plan.calendar.summarise_days(data.punches.get(member.id, _NO_DAYS),
                                               joined=member.joined)
        return context.attendance(base, summary, plan.shift_view)
    spend = consumption.summarise(data.moves.get(member.id, ()), data.undos.get(member.id, ()),
                                  data.balances.get(member.id))
    return context.consumption(base, spend)


_NO_DAYS: dict[int, DayPunches] = {}
def render(plan: Plan, data: Data) -> list[Item]:
    """One item per member and kind. A template error (TemplateInvalid) propagates: it is the
    template's fault, not the member's, and stops the run."""
    items: list[Item] = []
    for member in data.members:
        for kind in plan.kinds:
            items.append(_item(plan, data, member, kind))
    return items


def _item(plan: Plan, data: Data, member: store.MemberRow, kind: TemplateKind) -> Item:
    if member.opted_out:
        return Item(member, kind, Outcome.OPTED_OUT)
    try:
        measured = plan.templates[kind].measure(contexts(plan, data, member, kind))
    except TooManySegments as exc:
        return Item(member, kind, Outcome.TOO_LONG, segments=exc.segments)
    return Item(member, kind, Outcome.QUEUED, measured.text, measured.segments)


def counts(items: Sequence[Item]) -> dict[Outcome, int]:
    out = dict.fromkeys(Outcome, 0)
    for item in items:
        out[item.outcome] += 1
    return out
