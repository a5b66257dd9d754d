"""Terminal records: door, attendance, purchase, top-up and undo, keyed by (terminal, sequence).

An upload is stored whole or not at all, in one transaction (shared with uploads of other
terminals that arrive meanwhile: ``UploadQueue``). It is idempotent: a sequence number already
stored is reported as a duplicate (or a conflict, if the terminal now sends something else under
it) and changes nothing. Sequence numbers the terminal skipped are kept as gaps and reported
until they arrive. Every well-formed record is stored; a record that cannot be applied to the
ledger (card blacklisted, unknown or of another enterprise, purse short, undo not allowed) is
stored with flags saying why, for review, and posts nothing.

Ledger effects: a purchase moves fen from the card's purse to the enterprise's revenue; a top-up
from the enterprise's cash to the purse; an undo (撤销, seed 四 FAQ 11) reverses the terminal's
last purchase, once.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement

from gateway.db.engine import Database
from gateway.db.models import TerminalRecord
from gateway.db.repositories import CardRef, Page, Upload
from gateway.db.uow import UnitOfWork
from gateway.domain import (
    BLOCKED_CARD_STATES,
    RECORD_KINDS_BY_TERMINAL,
    AccountKind,
    PostingKind,
    RecordFlag,
    RecordKind,
    TerminalStatus,
)
from gateway.errors import Conflict, Forbidden, GatewayError, InsufficientFunds
from gateway.ports import Event, EventName
from gateway.services import ledger, views
from gateway.services.base import Deps, Principal, View, audit, read, transact

log = logging.getLogger(__name__)

GAPS_REPORTED = 100


@dataclass(frozen=True)
class RecordIn:
    seq: int
    kind: RecordKind
    iccid: str
    at: datetime
    amount_fen: int | None = None
    card_balance_fen: int | None = None
    undo_seq: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordFilter:
    enterprise_id: int | None = None
    terminal_id: int | None = None
    kind: RecordKind | None = None
    iccid: str | None = None
    flagged: bool | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass
class _Row:
    """A record on its way in: the input, what was found about it, and what it posts."""

    rec: RecordIn
    card: CardRef | None
    flags: list[str]
    posting_id: int | None = None
    spec: ledger.PostingSpec | None = None


@dataclass
class _Batch:
    """One upload of a stored group: its terminal, and what became of its records."""

    principal: Principal
    records: Sequence[RecordIn]
    terminal: Upload
    fresh: list[RecordIn] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    conflicts: list[View] = field(default_factory=list)
    rows: list[_Row] = field(default_factory=list)


async def ingest(deps: Deps, principal: Principal, batch: Sequence[RecordIn]) -> View:
    """Store one upload. Uploads of other terminals that arrive meanwhile are stored with it,
    in one transaction (``UploadQueue``), each as if alone."""
    queue = _QUEUES.get(deps.database)
    if queue is None:
        queue = _QUEUES[deps.database] = UploadQueue(deps)
    return await queue.submit(principal, batch)


async def store(uow: UnitOfWork, uploads: Sequence[tuple[Principal, Sequence[RecordIn]]]
                ) -> list[View | Forbidden]:
    """Store uploads of distinct terminals in ``uow``, with the effects of storing them one
    after the other (uploads with undo records come alone: an undo follows its terminal's
    purchases and moves money back before any later upload's). An upload whose terminal is
    disabled is refused and changes nothing."""
    found = await uow.terminals.for_uploads({p.terminal_id or 0 for p, _ in uploads})
    batches: list[_Batch | Forbidden] = []
    for principal, records in uploads:
        terminal = found.get(principal.terminal_id or 0)
        if terminal is None or terminal.status is not TerminalStatus.ACTIVE:
            batches.append(Forbidden("terminal disabled"))
        else:
            batches.append(_Batch(principal, records, terminal))
    live = [b for b in batches if isinstance(b, _Batch)]
    for b in live:
        await _split_batch(uow, b)
    cards = {c.iccid: c for c in await uow.cards.refs_by_iccids(
        {r.iccid for b in live for r in b.fresh})}
    for b in live:
        b.rows = [_classify(b.terminal, rec, cards.get(rec.iccid)) for rec in b.fresh]
    await _post(uow, [r for b in live for r in b.rows if r.rec.kind is not RecordKind.UNDO])
    for b in live:
        await _post_undos(uow, b.terminal, b.rows)
    now = uow.clock()
    await uow.records.insert_many([_insert_row(b.terminal, r, now) for b in live for r in b.rows])
    gaps = await _update_gaps(uow, live, now)
    return [_stored(uow, b, gaps[id(b)]) if isinstance(b, _Batch) else b for b in batches]


async def _split_batch(uow: UnitOfWork, batch: _Batch) -> None:
    terminal, seqs = batch.terminal, {r.seq for r in batch.records}
    # Sequence numbers above the highest received cannot be stored yet: no lookup needed.
    stored = ({} if min(seqs) > terminal.high_seq else
              {r.seq: r for r in await uow.records.by_seqs(terminal.id, seqs)})
    batch.fresh, batch.duplicates, batch.conflicts = _split(batch.records, stored)


def _stored(uow: UnitOfWork, batch: _Batch, gaps: list[list[int]]) -> View:
    """Audit and announce one stored upload; its answer."""
    terminal, rows = batch.terminal, batch.rows
    flagged = [{"seq": r.rec.seq, "flags": r.flags} for r in rows if r.flags]
    audit(uow, batch.principal, "terminal.upload", ("terminal", terminal.id),
          terminal.enterprise_id, accepted=len(rows), duplicates=len(batch.duplicates),
          flagged=len(flagged))
    if rows:
        uow.emit(_ingested(terminal, rows))
    return {"terminal": terminal.code, "accepted": len(rows), "duplicates": batch.duplicates,
            "conflicts": batch.conflicts, "flagged": flagged, "gaps": gaps,
            "high_seq": terminal.high_seq, "blacklist_version": terminal.blacklist_version}


# -- uploads stored together ---------------------------------------------------------------

MAX_GROUP_UPLOADS = 32
MAX_GROUP_RECORDS = 5_000


@dataclass
class _Pending:
    principal: Principal
    records: Sequence[RecordIn]
    future: asyncio.Future[View]

    @property
    def alone(self) -> bool:
        return any(r.kind is RecordKind.UNDO for r in self.records)  # see store()


class UploadQueue:
    """Stores the uploads that arrive while a transaction runs together, in the next one.

    On SQLite every upload waits for the one writer anyway. Stored together, N uploads cost
    one transaction: one BEGIN and COMMIT, one query for all their cards, one executemany for
    all their records, and the index pages they share are written once. A group takes at
    most one upload per terminal (another waits for the next group), and an upload with undo
    records alone. A refusal is one upload's; if the group's transaction fails as a whole (a
    conflict, a bug), each upload is stored alone.
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._waiting: list[_Pending] = []
        self._drain: asyncio.Task[None] | None = None
        self.largest = 0  # the most uploads one transaction stored (observability)

    async def submit(self, principal: Principal, records: Sequence[RecordIn]) -> View:
        pending = _Pending(principal, records, asyncio.get_running_loop().create_future())
        self._waiting.append(pending)
        if self._drain is None or self._drain.done():
            self._drain = asyncio.ensure_future(self._run())
        return await pending.future

    async def _run(self) -> None:
        while self._waiting:
            group = self._take()
            self.largest = max(self.largest, len(group))
            try:
                outcomes = await self._store(group)
            except BaseException:  # cancelled (shutting down): nobody waits forever
                for pending in group:
                    pending.future.cancel()
                raise
            for pending, outcome in zip(group, outcomes, strict=True):
                if pending.future.done():  # cancelled by its caller
                    continue
                if isinstance(outcome, BaseException):
                    pending.future.set_exception(outcome)
                else:
                    pending.future.set_result(outcome)

    def _take(self) -> list[_Pending]:
        group: list[_Pending] = []
        rest: list[_Pending] = []
        terminals: set[int | None] = set()
        records = 0
        for pending in self._waiting:
            fits = (not group or not (group[0].alone or pending.alone)) \
                and len(group) < MAX_GROUP_UPLOADS \
                and (not group or records + len(pending.records) <= MAX_GROUP_RECORDS) \
                and pending.principal.terminal_id not in terminals
            (group if fits else rest).append(pending)
            if fits:
                terminals.add(pending.principal.terminal_id)
                records += len(pending.records)
        self._waiting = rest
        return group

    async def _store(self, group: list[_Pending]) -> list[View | BaseException]:
        try:
            return await self._together(group)
        except Exception as exc:
            if len(group) == 1:
                return [exc]
            if isinstance(exc, GatewayError) and not isinstance(exc, Conflict):
                return [exc] * len(group)  # e.g. the database is unavailable: for all alike
            if not isinstance(exc, GatewayError):
                log.exception("storing %d uploads together failed; storing each alone",
                              len(group))
            return [out for p in group for out in await self._store([p])]

    async def _together(self, group: list[_Pending]) -> list[View | BaseException]:
        outcomes: list[View | BaseException] = []

        async def work(uow: UnitOfWork) -> View:
            outcomes[:] = await store(uow, [(p.principal, p.records) for p in group])
            return {}

        await transact(self.deps, group[0].principal, work, inline=True)
        return outcomes


_QUEUES: weakref.WeakKeyDictionary[Database, UploadQueue] = weakref.WeakKeyDictionary()


def _ingested(terminal: Upload, rows: Sequence[_Row]) -> Event:
    """The batch's event. Its counts let subscribers skip re-reading a batch that holds
    nothing for them (no top-up, no card balance)."""
    kinds: dict[str, int] = {}
    for row in rows:
        kinds[row.rec.kind.value] = kinds.get(row.rec.kind.value, 0) + 1
    return Event(EventName.RECORDS_INGESTED, terminal.enterprise_id, {
        "terminal_id": terminal.id, "count": len(rows),
        "first_seq": rows[0].rec.seq, "last_seq": rows[-1].rec.seq, "kinds": kinds,
        "posted": sum(1 for r in rows if r.posting_id is not None),
        "balances": sum(1 for r in rows if r.rec.card_balance_fen is not None)})


def _split(batch: Sequence[RecordIn], stored: Mapping[int, TerminalRecord]
           ) -> tuple[list[RecordIn], list[int], list[View]]:
    fresh: dict[int, RecordIn] = {}
    duplicates: list[int] = []
    conflicts: list[View] = []
    for rec in batch:
        prior = stored.get(rec.seq)
        earlier = fresh.get(rec.seq)
        if prior is None and earlier is None:
            fresh[rec.seq] = rec
            continue
        duplicates.append(rec.seq)
        same = (_same_stored(rec, prior) if prior is not None
                else earlier is not None and _key(rec) == _key(earlier))
        if not same:
            conflicts.append({"seq": rec.seq, "detail": "differs from the record already "
                              "received under this sequence number; the first one stands"})
    return sorted(fresh.values(), key=lambda r: r.seq), duplicates, conflicts


def _key(rec: RecordIn) -> tuple[Any, ...]:
    return (rec.kind, rec.iccid, rec.amount_fen, rec.undo_seq)


def _same_stored(rec: RecordIn, row: TerminalRecord) -> bool:
    return _key(rec) == (row.kind, row.iccid, row.amount_fen, row.undo_seq)


def _classify(terminal: Upload, rec: RecordIn, card: CardRef | None) -> _Row:
    flags: list[str] = []
    if rec.kind not in RECORD_KINDS_BY_TERMINAL[terminal.kind]:
        flags.append(RecordFlag.WRONG_TERMINAL_KIND)
    if card is None:
        flags.append(RecordFlag.UNKNOWN_CARD)
    elif card.enterprise_id != terminal.enterprise_id:
        flags.append(RecordFlag.FOREIGN_CARD)
        card = None  # never post to another enterprise's purse
    elif card.state in BLOCKED_CARD_STATES:
        flags.append(RecordFlag.BLACKLISTED)
    row = _Row(rec, card, flags)
    if not flags and card is not None and rec.amount_fen:
        row.spec = _spec(terminal, rec, card)
    return row


def _spec(terminal: Upload, rec: RecordIn, card: CardRef) -> ledger.PostingSpec | None:
    amount = rec.amount_fen or 0
    purse = ledger.purse_code(card.id)
    ent = terminal.enterprise_id
    ref = f"rec:{terminal.id}:{rec.seq}"
    memo = f"{terminal.code} #{rec.seq}"
    if rec.kind is RecordKind.PURCHASE:
        revenue = ledger.enterprise_code(AccountKind.REVENUE, ent)
        return ledger.transfer(ref, PostingKind.PURCHASE, ent, purse, revenue, amount, memo)
    if rec.kind is RecordKind.TOPUP:
        cash = ledger.enterprise_code(AccountKind.CASH, ent)
        return ledger.transfer(ref, PostingKind.TOPUP, ent, cash, purse, amount, memo)
    return None


async def _post(uow: UnitOfWork, rows: Sequence[_Row]) -> None:
    todo = [r for r in rows if r.spec is not None]
    if not todo:
        return
    outcomes = await ledger.post_many(uow, [r.spec for r in todo if r.spec is not None])
    for row, outcome in zip(todo, outcomes, strict=True):
        if isinstance(outcome, InsufficientFunds):
            row.flags.append(RecordFlag.INSUFFICIENT_FUNDS)
        elif isinstance(outcome, Exception):
            row.flags.append(RecordFlag.ALREADY_UNDONE if row.rec.kind is RecordKind.UNDO
                             else outcome.code)
        else:
            row.posting_id = outcome.id


async def _post_undos(uow: UnitOfWork, terminal: Upload, rows: Sequence[_Row]) -> None:
    undos = [r for r in rows if r.rec.kind is RecordKind.UNDO and not r.flags]
    if not undos:
        return
    in_batch = {r.rec.seq: r for r in rows}
    wanted = {r.rec.undo_seq for r in undos if r.rec.undo_seq is not None}
    stored = {t.seq: t for t in await uow.records.by_seqs(terminal.id, wanted)}
    done = {p.reference for p in await uow.ledger.postings_by_references(
        [_undo_ref(terminal, s) for s in wanted])}
    for row in undos:
        await _check_undo(uow, terminal, row, in_batch, stored, done)
    await _post(uow, [r for r in undos if not r.flags])


def _undo_ref(terminal: Upload, target_seq: int) -> str:
    return f"undo:{terminal.id}:{target_seq}"


async def _check_undo(uow: UnitOfWork, terminal: Upload, row: _Row,
                      in_batch: Mapping[int, _Row], stored: Mapping[int, TerminalRecord],
                      done: set[str]) -> None:
    target_seq = row.rec.undo_seq or 0
    batch_target = in_batch.get(target_seq)
    target = stored.get(target_seq)
    kind = batch_target.rec.kind if batch_target else target.kind if target else None
    iccid = batch_target.rec.iccid if batch_target else target.iccid if target else None
    posted = batch_target.posting_id if batch_target else target.posting_id if target else None
    amount = batch_target.rec.amount_fen if batch_target else target.amount_fen if target else 0
    ref = _undo_ref(terminal, target_seq)
    if kind is not RecordKind.PURCHASE or target_seq >= row.rec.seq:
        row.flags.append(RecordFlag.UNDO_TARGET_MISSING)
    elif iccid != row.rec.iccid:
        row.flags.append(RecordFlag.CARD_MISMATCH)
    elif posted is None:
        row.flags.append(RecordFlag.UNDO_TARGET_NOT_POSTED)
    elif ref in done:
        row.flags.append(RecordFlag.ALREADY_UNDONE)
    elif any(r.rec.kind is RecordKind.PURCHASE and target_seq < s < row.rec.seq
             for s, r in in_batch.items()) or await uow.records.purchase_between(
                 terminal.id, target_seq, row.rec.seq):
        row.flags.append(RecordFlag.UNDO_NOT_LAST)
    if row.flags or row.card is None:
        return
    done.add(ref)
    revenue = ledger.enterprise_code(AccountKind.REVENUE, terminal.enterprise_id)
    row.spec = ledger.transfer(ref, PostingKind.UNDO, terminal.enterprise_id, revenue,
                               ledger.purse_code(row.card.id), amount or 0,
                               f"{terminal.code} undo #{target_seq}")


def _insert_row(terminal: Upload, row: _Row, now: datetime) -> tuple[Any, ...]:
    """The record's row, in the order of ``repositories.RECORD_COLUMNS``."""
    rec, card = row.rec, row.card
    return (terminal.id, rec.seq, terminal.enterprise_id, rec.kind, rec.iccid,
            card.id if card else None, card.member_id if card else None, rec.at, now,
            rec.amount_fen, rec.card_balance_fen, rec.undo_seq, [str(f) for f in row.flags],
            bool(row.flags), row.posting_id, dict(rec.extra))


async def _update_gaps(uow: UnitOfWork, batches: Sequence[_Batch], now: datetime
                       ) -> dict[int, list[list[int]]]:
    """Store the terminals' gaps and high sequence numbers after the batches; the open gaps
    of each batch (by ``id``)."""
    closed: list[int] = []
    opened: list[tuple[int, int, int]] = []
    out: dict[int, list[list[int]]] = {}
    for batch in batches:
        terminal = batch.terminal
        kept, new, filled = _gaps_after(terminal, sorted(r.rec.seq for r in batch.rows))
        closed += filled
        opened += [(terminal.id, first, last) for first, last in new]
        out[id(batch)] = [[first, last] for first, last in sorted(kept + new)[:GAPS_REPORTED]]
    await uow.terminals.save_uploads([b.terminal for b in batches], now, closed, opened)
    return out


def _gaps_after(terminal: Upload, seqs: list[int]
                ) -> tuple[list[tuple[int, int]], list[tuple[int, int]], list[int]]:
    """Late records fill gaps, skipped numbers open new ones: the gaps kept, the gaps to open,
    the ids of the gaps (partly) filled. Moves the terminal's high sequence number."""
    high = terminal.high_seq
    late = {s for s in seqs if s <= high}
    kept: list[tuple[int, int]] = []
    new: list[tuple[int, int]] = []
    filled: list[int] = []
    for gap_id, first_seq, last_seq in terminal.gaps:
        inside = sorted(s for s in late if first_seq <= s <= last_seq)
        if not inside:
            kept.append((first_seq, last_seq))
            continue
        filled.append(gap_id)
        new += _remaining(first_seq, last_seq, inside)
    for seq in (s for s in seqs if s > high):
        if seq > high + 1:
            new.append((high + 1, seq - 1))
        high = seq
    terminal.high_seq = high
    return kept, new, filled


def _remaining(first: int, last: int, filled: list[int]) -> list[tuple[int, int]]:
    runs, start = [], first
    for seq in filled:
        if seq > start:
            runs.append((start, seq - 1))
        start = seq + 1
    if start <= last:
        runs.append((start, last))
    return runs


async def list_records(deps: Deps, principal: Principal, flt: RecordFilter, page: Page) -> View:
    scoped = principal.enterprise_filter(flt.enterprise_id)
    where: list[ColumnElement[bool]] = []
    if scoped is not None:
        where.append(TerminalRecord.enterprise_id == scoped)
    for column, value in ((TerminalRecord.terminal_id, flt.terminal_id),
                          (TerminalRecord.kind, flt.kind), (TerminalRecord.iccid, flt.iccid)):
        if value is not None:
            where.append(column == value)
    if flt.since is not None:
        where.append(TerminalRecord.occurred_at >= flt.since)
    if flt.until is not None:
        where.append(TerminalRecord.occurred_at < flt.until)
    if flt.flagged is not None:
        where.append(TerminalRecord.flagged == flt.flagged)

    async def work(uow: UnitOfWork) -> View:
        rows = await uow.records.page(where, Page(page.after, page.limit + 1))
        return views.page([views.record(r) for r in rows], page.limit)

    return await read(deps, work)
