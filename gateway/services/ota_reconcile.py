"""Card balances against the ledger: every PoR and terminal upload that reports a balance.

The ledger is the truth; the purse on the card is a replica. What the card should hold is the
purse account's balance less its holds (top-ups not yet confirmed by the card are held). Each
report keeps both figures and, when they differ, the likely reason:

* the card holds more: a pending top-up already credited whose PoR is not processed yet, or a
  top-up that was reversed after its PoRs went missing although the card applied it (the one
  case that needs a person: credit the member again, or take the money back at a terminal);
* the card holds less: purchases made offline and not uploaded yet by the terminals.

The card's load counter (credits applied) is compared with the number of over-the-air top-ups
the ledger confirmed for it; loads made elsewhere (top-up terminals, the issuing desk) show
there. ``reconciliation`` lists, per card, the latest report that differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, func, select

from gateway.db import bulk
from gateway.db.fast import Query
from gateway.db.models import Account, Card, TerminalRecord
from gateway.db.models_ota import BalanceReport, OtaTopup
from gateway.db.repositories import Page
from gateway.db.uow import UnitOfWork
from gateway.ota_core import JobState
from gateway.ports import Event, EventBus, EventName
from gateway.services import ledger, views
from gateway.services.base import Deps, Principal, View, read

_OPEN = (JobState.PENDING, JobState.SENT)


@dataclass(frozen=True)
class Reported:
    """A card balance (and load counter, from a PoR) as reported, to compare with the ledger."""

    card_id: int
    enterprise_id: int
    source: str  # por, terminal
    reference: str
    reported_fen: int
    load_counter: int | None = None


async def report(uow: UnitOfWork, *, card_id: int, enterprise_id: int, source: str,
                 reference: str, reported_fen: int,
                 load_counter: int | None = None) -> BalanceReport:
    """Record what the card reported beside what the ledger says now (same transaction)."""
    (row,) = await _report(uow, [Reported(card_id, enterprise_id, source, reference,
                                          reported_fen, load_counter)])
    return BalanceReport(**row)


async def report_many(uow: UnitOfWork, items: Sequence[Reported]) -> None:
    """``report`` for a batch: two queries however many cards (one card once per batch)."""
    await _report(uow, items)


async def _report(uow: UnitOfWork, items: Sequence[Reported]) -> list[dict[str, Any]]:
    if not items:
        return []
    codes = {ledger.purse_code(i.card_id) for i in items}
    purses = {r.card_id: r for r in await _PURSES.rows(uow.session, {"codes": list(codes)})}
    counted = list({i.card_id for i in items if i.load_counter is not None})
    loads: dict[int, int] = {}
    if counted:
        loads = {int(cid): int(n) for cid, n in await _LOADS.rows(uow.session,
                                                                  {"cards": counted})}
    rows: list[dict[str, Any]] = []
    for item in items:
        purse = purses[item.card_id]
        expected = purse.balance - purse.held
        difference = item.reported_fen - expected
        count = loads.get(item.card_id, 0) if item.load_counter is not None else None
        explanation = None
        if difference or (count is not None and item.load_counter != count):
            explanation = await explain(uow, item.card_id, difference, item.load_counter, count)
        rows.append({
            "enterprise_id": item.enterprise_id, "card_id": item.card_id, "source": item.source,
            "reference": item.reference, "reported_fen": item.reported_fen,
            "ledger_fen": expected, "difference_fen": difference,
            "load_counter": item.load_counter, "ledger_loads": count,
            "explanation": explanation, "at": uow.clock()})
    # One executemany (the ORM would insert row by row to learn each id).
    await bulk.insert_rows(uow.session, _REPORTS, _REPORT_COLUMNS,
                           [tuple(row[c] for c in _REPORT_COLUMNS) for row in rows])
    return rows


_REPORTS = cast(Table, BalanceReport.__table__)
_REPORT_COLUMNS = ("enterprise_id", "card_id", "source", "reference", "reported_fen",
                   "ledger_fen", "difference_fen", "load_counter", "ledger_loads",
                   "explanation", "at")
# Statements of every PoR batch, built once (``gateway.db.fast``).
_PURSES = Query(select(Account.card_id, Account.balance, Account.held).where(
    Account.code.in_(bindparam("codes", expanding=True))))
_LOADS = Query(select(OtaTopup.card_id, func.count()).where(
    OtaTopup.card_id.in_(bindparam("cards", expanding=True)),
    OtaTopup.state == JobState.CONFIRMED).group_by(OtaTopup.card_id))


async def explain(uow: UnitOfWork, card_id: int, difference: int, load_counter: int | None,
                  loads: int | None) -> str:
    parts: list[str] = []
    if difference > 0:
        parts.append(await _more_on_card(uow, card_id, difference))
    elif difference < 0:
        parts.append(f"the card holds {-difference} fen less than the ledger: purchases made "
                     "offline and not uploaded yet, or a terminal record missing")
    if loads is not None and load_counter is not None and load_counter != loads:
        parts.append(f"the card counts {load_counter} loads, the ledger {loads} over-the-air "
                     "top-ups (loads at terminals or the issuing desk count on the card only)")
    return "; ".join(parts)[:300]


async def _more_on_card(uow: UnitOfWork, card_id: int, difference: int) -> str:
    rows = list((await uow.session.scalars(select(OtaTopup).where(
        OtaTopup.card_id == card_id,
        OtaTopup.state.in_([*_OPEN, JobState.REVERSED])).order_by(OtaTopup.id))).all())
    pending = [r for r in rows if r.state in _OPEN]
    reversed_ = [r for r in rows if r.state is JobState.REVERSED]
    if pending and (sum(r.amount_fen for r in pending) == difference
                    or difference in {r.amount_fen for r in pending}):
        ids = ", ".join(f"#{r.id}" for r in pending)
        return (f"the card already holds pending top-up {ids}: its PoR is not processed yet "
                "(it is confirmed when it is)")
    match = next((r for r in reversed_ if r.amount_fen == difference), None)
    if match is not None:
        return (f"top-up #{match.id} was reversed after its PoRs went missing, but the card "
                f"applied its {match.amount_fen} fen: credit the member again or recover it")
    return f"the card holds {difference} fen more than the ledger: unexplained, investigate"


def install(bus: EventBus) -> None:
    """Compare the balances that terminal uploads carry, in the upload's transaction."""
    bus.subscribe(on_records, [EventName.RECORDS_INGESTED])


async def on_records(uow: UnitOfWork, event: Event) -> None:
    payload = event.payload
    if payload.get("balances", 1) == 0:
        return  # no record of the batch reported a card balance (counted in the event)
    stmt = select(TerminalRecord).where(
        TerminalRecord.terminal_id == payload["terminal_id"],
        TerminalRecord.seq.between(payload["first_seq"], payload["last_seq"]),
        TerminalRecord.card_balance_fen.is_not(None), TerminalRecord.card_id.is_not(None),
    ).order_by(TerminalRecord.seq)
    latest: dict[int, TerminalRecord] = {}
    for row in await uow.session.scalars(stmt):
        assert row.card_id is not None
        latest[row.card_id] = row  # the card's balance after its last record of the batch
    await report_many(uow, [Reported(card_id, row.enterprise_id, "terminal", f"record:{row.id}",
                                     row.card_balance_fen or 0)
                            for card_id, row in latest.items()])


def report_view(row: BalanceReport, iccid: str) -> View:
    return {"id": row.id, "iccid": iccid, "card_id": row.card_id, "source": row.source,
            "reference": row.reference, "reported_fen": row.reported_fen,
            "ledger_fen": row.ledger_fen, "difference_fen": row.difference_fen,
            "load_counter": row.load_counter, "ledger_loads": row.ledger_loads,
            "explanation": row.explanation, "at": views.ts(row.at)}


async def reconciliation(deps: Deps, principal: Principal, enterprise_id: int | None,
                         all_cards: bool, page: Page) -> View:
    """The latest balance report of each card (only those that differ, unless ``all_cards``)."""
    scoped = principal.enterprise_filter(enterprise_id)
    latest = select(func.max(BalanceReport.id)).group_by(BalanceReport.card_id)
    where: list[ColumnElement[bool]] = [BalanceReport.id.in_(latest)]
    if scoped is not None:
        where.append(BalanceReport.enterprise_id == scoped)
    if not all_cards:
        where.append((BalanceReport.difference_fen != 0)
                     | (BalanceReport.load_counter != BalanceReport.ledger_loads))
    if page.after is not None:
        where.append(BalanceReport.id > page.after)

    async def work(uow: UnitOfWork) -> View:
        stmt = (select(BalanceReport, Card.iccid).join(Card, Card.id == BalanceReport.card_id)
                .where(*where).order_by(BalanceReport.id).limit(page.limit + 1))
        rows = (await uow.session.execute(stmt)).all()
        items = [report_view(r, iccid) for r, iccid in rows]
        return views.page(items, page.limit)

    return await read(deps, work)
