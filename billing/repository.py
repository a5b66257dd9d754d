"""Billing's repository: adds and gets rows; the caller's unit of work owns the transaction.

It also reads the gateway's ledger, cards and terminal records for reconciliation (reads
only). SQLAlchemy stays here and in ``billing.models``: the rest of ``billing`` sees
``Cdr``, ``FeePlan`` and plain values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, and_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing.cdr import Cdr, CdrKind
from billing.models import (
    AccountRow,
    CarrierRow,
    CdrRow,
    ExportFileRow,
    ExportJobRow,
    ExportLineRow,
    PlanRow,
    SequenceRow,
    TariffRow,
)
from billing.period import Period
from billing.reconcile import LedgerTotals
from billing.tariffs import ChargeItem, FeePlan, Tariff
from gateway.db.engine import inline_driver
from gateway.db.fast import Query
from gateway.db.models import Account, Card, Enterprise, Entry, Posting, TerminalRecord
from gateway.db.models_ota import BalanceReport
from gateway.domain import AccountKind, PostingKind

BATCH = 5000


def cdr_values(cdr: Cdr, recorded_at: datetime) -> dict[str, Any]:
    """A row of ``billing_cdrs``; ``cdr.enterprise_id`` is the gateway's enterprise id."""
    return {
        "cdr_id": cdr.cdr_id,
        "kind": int(cdr.kind),
        "occurred_at": cdr.occurred_at,
        "period": str(Period.of(cdr.occurred_at)),
        "enterprise_id": int(cdr.enterprise_id),
        "member_id": cdr.member_id,
        "msisdn": cdr.msisdn,
        "iccid": cdr.iccid,
        "detail": cdr.detail,
        "quantity": cdr.quantity,
        "amount_fen": cdr.amount_fen,
        "reference": cdr.reference,
        "recorded_at": recorded_at,
        "export_job_id": None,
    }


def cdr_of(row: CdrRow, enterprise: str) -> Cdr:
    """A stored record, named for export by ``enterprise`` (the enterprise's code)."""
    return Cdr(
        row.cdr_id,
        CdrKind(row.kind),
        row.occurred_at,
        enterprise,
        row.member_id,
        row.msisdn,
        row.iccid,
        row.detail,
        row.quantity,
        row.amount_fen,
        row.reference,
    )


class BillingRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------------------- records

    async def add_cdrs(self, cdrs: Sequence[Cdr], recorded_at: datetime) -> int:
        """Insert records whose id is new; a known id is left as it is. Returns how many.

        One executemany on the table, not the ORM: a bulk of records costs one round of
        parameter batches (tens of thousands of rows a second, where ORM inserts do a
        thousand), and RETURNING counts what was new on SQLite and PostgreSQL alike.
        """
        if not cdrs:
            return 0
        if inline_driver(self.session) is not None:
            # A unit running inline on SQLite (the outbox writer records an SMS's CDR with
            # every claim it settles): straight to the driver, SQLite counting the new rows.
            return await _ADD_CDRS.run_many(
                self.session, [cdr_values(c, recorded_at) for c in cdrs])
        dialect = self.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = (
            insert(_CDRS)
            .on_conflict_do_nothing(index_elements=["cdr_id"])
            .returning(_CDRS.c.cdr_id)
        )
        result = await self.session.execute(stmt, [cdr_values(c, recorded_at) for c in cdrs])
        return len(result.all())

    async def cdr(self, cdr_id: str) -> CdrRow | None:
        return await self.session.get(CdrRow, cdr_id)

    async def membership_events(
        self, enterprise_ids: Collection[int], before: datetime
    ) -> list[Cdr]:
        kinds = [CdrKind.SERVICE_START, CdrKind.SERVICE_END, CdrKind.CARD_REPLACED]
        stmt = select(CdrRow).where(
            CdrRow.kind.in_([int(k) for k in kinds]),
            CdrRow.enterprise_id.in_(enterprise_ids),
            CdrRow.occurred_at < before,
        )
        return [cdr_of(row, str(row.enterprise_id)) for row in await self.session.scalars(stmt)]

    async def claim(self, job_id: int, period: Period, enterprise_ids: Collection[int]) -> int:
        """Give the job every unclaimed billable record of the period: billed once, by it."""
        stmt = (
            update(CdrRow)
            .where(
                CdrRow.period == str(period),
                CdrRow.export_job_id.is_(None),
                CdrRow.enterprise_id.in_(enterprise_ids),
                CdrRow.kind.in_([int(k) for k in _BILLABLE]),
            )
            .values(export_job_id=job_id)
        )
        result = await self.session.execute(stmt)
        return int(getattr(result, "rowcount", 0) or 0)

    async def job_cdrs(self, job_id: int, names: dict[int, str]) -> AsyncIterator[list[Cdr]]:
        """The job's records in file order (enterprise, time, id), in batches.

        Columns, not ORM objects: an export reads a million rows, and building mapped
        instances would cost more than rating and writing them.
        """
        stmt = (
            select(*_CDR_COLUMNS)
            .where(CdrRow.export_job_id == job_id)
            .order_by(CdrRow.enterprise_id, CdrRow.occurred_at, CdrRow.cdr_id)
            .execution_options(yield_per=BATCH)
        )
        result = await self.session.stream(stmt)
        kinds = _KINDS
        async for partition in result.partitions(BATCH):
            yield [
                Cdr(i, kinds[k], at, names[e], m, msisdn, iccid, d, q, fen, ref)
                for i, k, at, e, m, msisdn, iccid, d, q, fen, ref in partition
            ]

    async def period_cdrs(
        self, period: Period, enterprise_ids: Collection[int], names: dict[int, str]
    ) -> list[Cdr]:
        """Usage records of a month (claimed or late), without member-months: re-rating."""
        kinds = [int(k) for k in _BILLABLE if k is not CdrKind.MEMBER_MONTH]
        stmt = select(CdrRow).where(
            CdrRow.period == str(period),
            CdrRow.enterprise_id.in_(enterprise_ids),
            CdrRow.kind.in_(kinds),
        )
        return [cdr_of(r, names[r.enterprise_id]) for r in await self.session.scalars(stmt)]

    async def adjusted(self, period: Period) -> dict[tuple[int, ChargeItem], int]:
        """Fen of the adjustments issued so far for ``period``, by enterprise and item."""
        stmt = (
            select(CdrRow.enterprise_id, CdrRow.detail, func.sum(CdrRow.amount_fen))
            .where(CdrRow.kind == int(CdrKind.ADJUSTMENT), CdrRow.reference.like(f"{period}/%"))
            .group_by(CdrRow.enterprise_id, CdrRow.detail)
        )
        rows = await self.session.execute(stmt)
        return {(e, ChargeItem[item]): int(total) for e, item, total in rows}

    # ------------------------------------------------------------------------- configuration

    async def carrier(self, code: str, *, for_update: bool = False) -> CarrierRow | None:
        return await self.session.get(CarrierRow, code, with_for_update=for_update)

    async def carriers(self) -> list[CarrierRow]:
        return list(await self.session.scalars(select(CarrierRow).order_by(CarrierRow.code)))

    def add(self, row: Any) -> None:
        self.session.add(row)

    async def plan_row(self, code: str) -> PlanRow | None:
        return await self.session.get(PlanRow, code)

    async def tariff_rows(self, plan_codes: Collection[str]) -> list[TariffRow]:
        stmt = select(TariffRow).where(TariffRow.plan_code.in_(plan_codes))
        return list(await self.session.scalars(stmt.order_by(TariffRow.effective_from)))

    async def plans(self, codes: Collection[str]) -> dict[str, FeePlan]:
        rows = {
            r.code: r
            for r in await self.session.scalars(select(PlanRow).where(PlanRow.code.in_(codes)))
        }
        tariffs: dict[str, list[Tariff]] = defaultdict(list)
        for row in await self.tariff_rows(list(rows)):
            tariffs[row.plan_code].append(Tariff.from_dict(row.prices))
        return {
            code: FeePlan(code, row.name, tuple(tariffs[code]))
            for code, row in rows.items()
            if tariffs[code]
        }

    async def account(self, enterprise_id: int) -> AccountRow | None:
        return await self.session.get(AccountRow, enterprise_id)

    async def accounts_of(self, carrier_code: str) -> list[tuple[AccountRow, str]]:
        """The carrier's accounts with their enterprise's code, by enterprise id."""
        stmt = (
            select(AccountRow, Enterprise.code)
            .join(Enterprise, Enterprise.id == AccountRow.enterprise_id)
            .where(AccountRow.carrier_code == carrier_code)
            .order_by(AccountRow.enterprise_id)
        )
        return [(account, code) for account, code in await self.session.execute(stmt)]

    async def enterprise_code(self, enterprise_id: int) -> str | None:
        stmt = select(Enterprise.code).where(Enterprise.id == enterprise_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def next_sequence(self, carrier_code: str, layout: str) -> int:
        """The carrier's next file sequence number for ``layout`` (row locked until commit)."""
        row = await self.session.get(SequenceRow, (carrier_code, layout), with_for_update=True)
        if row is None:
            row = SequenceRow(carrier_code=carrier_code, layout=layout, last=0)
            self.session.add(row)
        row.last += 1
        return row.last

    # ------------------------------------------------------------------------- export jobs

    async def job(
        self, carrier_code: str, period: Period, *, for_update: bool = False
    ) -> ExportJobRow | None:
        stmt = select(ExportJobRow).where(
            ExportJobRow.carrier_code == carrier_code, ExportJobRow.period == str(period)
        )
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def job_by_id(self, job_id: int, *, for_update: bool = False) -> ExportJobRow | None:
        return await self.session.get(ExportJobRow, job_id, with_for_update=for_update)

    async def jobs(self, carrier_code: str | None = None) -> list[ExportJobRow]:
        stmt: Select[ExportJobRow] = select(ExportJobRow).order_by(ExportJobRow.id)
        if carrier_code is not None:
            stmt = stmt.where(ExportJobRow.carrier_code == carrier_code)
        return list(await self.session.scalars(stmt))

    async def unfinished_jobs(self) -> list[ExportJobRow]:
        stmt = select(ExportJobRow).where(ExportJobRow.finished_at.is_(None))
        return list(await self.session.scalars(stmt.order_by(ExportJobRow.id)))

    async def files(self, job_id: int) -> list[ExportFileRow]:
        stmt = select(ExportFileRow).where(ExportFileRow.job_id == job_id)
        return list(await self.session.scalars(stmt.order_by(ExportFileRow.id)))

    async def lines(self, job_id: int) -> list[ExportLineRow]:
        stmt = select(ExportLineRow).where(ExportLineRow.job_id == job_id)
        return list(await self.session.scalars(stmt.order_by(ExportLineRow.id)))

    # ------------------------------------------------------------------------- the ledger

    async def ledger_totals(
        self, enterprise_ids: Collection[int], start: datetime, end: datetime
    ) -> dict[int, LedgerTotals]:
        """Top-ups (not reversed), purchases net of undos, refunds, by enterprise."""
        reversed_ids = select(Posting.reverses_id).where(Posting.reverses_id.is_not(None))
        amount = func.sum(Entry.amount)
        stmt = (
            select(
                Posting.enterprise_id, Posting.kind, func.count(func.distinct(Posting.id)), amount
            )
            .join(Entry, Entry.posting_id == Posting.id)
            .where(
                Posting.enterprise_id.in_(enterprise_ids),
                Posting.created_at >= start,
                Posting.created_at < end,
                Entry.amount > 0,
                Posting.id.not_in(reversed_ids),
            )
            .group_by(Posting.enterprise_id, Posting.kind)
        )
        sums: dict[int, dict[PostingKind, tuple[int, int]]] = defaultdict(dict)
        for enterprise_id, kind, count, total in await self.session.execute(stmt):
            sums[enterprise_id][PostingKind(kind)] = (int(count), int(total or 0))
        return {e: _ledger(by_kind) for e, by_kind in sums.items()}

    async def card_balances(
        self, enterprise_ids: Collection[int]
    ) -> list[tuple[int, str, int, int, str]]:
        """(enterprise, iccid, card fen, ledger fen, source) of cards whose purse balance, as
        last reported, is newer than the purse's last ledger movement: both should then agree.

        A card reports its purse in two ways: terminal records carry the balance after the
        transaction, and the PoR of an over-the-air top-up carries the balance after the credit
        (kept with the ledger's view at that moment, less pending holds, in
        ``ota_balance_reports``). The newer of the two is the one that counts.
        """
        last_record = (
            select(TerminalRecord.card_id, func.max(TerminalRecord.id).label("record_id"))
            .where(TerminalRecord.card_balance_fen.is_not(None))
            .group_by(TerminalRecord.card_id)
            .subquery()
        )
        last_report = (
            select(BalanceReport.card_id, func.max(BalanceReport.id).label("report_id"))
            .group_by(BalanceReport.card_id)
            .subquery()
        )
        last_move = (
            select(Entry.account_id, func.max(Posting.created_at).label("moved_at"))
            .join(Posting, Posting.id == Entry.posting_id)
            .group_by(Entry.account_id)
            .subquery()
        )
        stmt = (
            select(
                Card.enterprise_id,
                Card.iccid,
                TerminalRecord.card_balance_fen,
                TerminalRecord.received_at,
                BalanceReport.reported_fen,
                BalanceReport.ledger_fen,
                BalanceReport.source,
                BalanceReport.at,
                Account.balance,
                last_move.c.moved_at,
            )
            .join(last_record, last_record.c.card_id == Card.id, isouter=True)
            .join(TerminalRecord, TerminalRecord.id == last_record.c.record_id, isouter=True)
            .join(last_report, last_report.c.card_id == Card.id, isouter=True)
            .join(BalanceReport, BalanceReport.id == last_report.c.report_id, isouter=True)
            .join(Account, and_(Account.card_id == Card.id, Account.kind == AccountKind.PURSE))
            .join(last_move, last_move.c.account_id == Account.id, isouter=True)
            .where(
                Card.enterprise_id.in_(enterprise_ids),
                (last_record.c.record_id.is_not(None)) | (last_report.c.report_id.is_not(None)),
            )
            .order_by(Card.iccid)
        )
        found: list[tuple[int, str, int, int, str]] = []
        for row in await self.session.execute(stmt):
            (enterprise_id, iccid, record_fen, received, report_fen, report_ledger, source,
             reported_at, balance, moved) = row  # fmt: skip
            if reported_at is not None and (received is None or reported_at >= received):
                reported, card_fen, ledger_fen = reported_at, report_fen, report_ledger
            else:
                reported, card_fen, ledger_fen, source = received, record_fen, balance, "terminal"
            if moved is None or reported >= moved:
                found.append((enterprise_id, iccid, int(card_fen), int(ledger_fen), source))
        return found


_CDRS = cast(Table, CdrRow.__table__)
_ADD_CDRS = Query(sqlite_insert(_CDRS).values({c.name: bindparam(c.name) for c in _CDRS.c})
                  .on_conflict_do_nothing(index_elements=["cdr_id"]))
_CDR_COLUMNS = (
    CdrRow.cdr_id, CdrRow.kind, CdrRow.occurred_at, CdrRow.enterprise_id, CdrRow.member_id,
    CdrRow.msisdn, CdrRow.iccid, CdrRow.detail, CdrRow.quantity, CdrRow.amount_fen,
    CdrRow.reference,
)  # fmt: skip
_KINDS = {int(kind): kind for kind in CdrKind}

_BILLABLE = (
    CdrKind.MEMBER_MONTH,
    CdrKind.SMS,
    CdrKind.OTA,
    CdrKind.TOPUP,
    CdrKind.ONE_OFF,
    CdrKind.ADJUSTMENT,
)


def _ledger(by_kind: dict[PostingKind, tuple[int, int]]) -> LedgerTotals:
    topups = by_kind.get(PostingKind.TOPUP, (0, 0))
    purchases = (
        by_kind.get(PostingKind.PURCHASE, (0, 0))[1] - by_kind.get(PostingKind.UNDO, (0, 0))[1]
    )
    return LedgerTotals(topups[0], topups[1], purchases, by_kind.get(PostingKind.REFUND, (0, 0))[1])
